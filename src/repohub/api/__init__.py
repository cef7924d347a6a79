"""HTTP: the three dialect routers, the registry adapter and shared dependencies."""
