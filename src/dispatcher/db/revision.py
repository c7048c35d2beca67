"""The newest schema revision, importable without Alembic or SQLAlchemy."""

# A test keeps this equal to Alembic's single head.
SCHEMA_HEAD = "d5f1a7c3b004"
