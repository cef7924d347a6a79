"""repohub's test suite."""
