"""The v1 (Alauda-style) dialect."""
