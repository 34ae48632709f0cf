"""Database layer: typed models, engine/session factories, Alembic migrations."""
