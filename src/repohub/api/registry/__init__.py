"""The registry adapter: the token service the registry sends clients to, and its event sink."""
