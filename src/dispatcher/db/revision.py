"""The newest schema revision, importable without Alembic or SQLAlchemy."""

# A test keeps this equal to Alembic's single head.
SCHEMA_HEAD = "a8d4e0f6b007"
