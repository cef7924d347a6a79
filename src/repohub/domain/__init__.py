"""Domain: entities, rules and use cases, free of HTTP and SQL."""
