"""Credentials: parsing, hashing, signatures and tokens."""
