"""The newest schema revision, importable without Alembic or SQLAlchemy."""

# A test keeps this equal to Alembic's single head.
SCHEMA_HEAD = "b9e5f1c7d008"
