"""The newest schema revision, importable without Alembic or SQLAlchemy."""

# A test keeps this equal to Alembic's single head.
SCHEMA_HEAD = "b6f2a8d4e015"
