"""repohub."""
