"""Store: async SQLAlchemy data access, the only place with SQL."""
