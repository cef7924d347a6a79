"""Talking to the Distribution registry: its HTTP API, and the key repohub signs its tokens with."""
