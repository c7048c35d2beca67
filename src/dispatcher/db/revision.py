"""The newest schema revision, importable without Alembic or SQLAlchemy."""

# A test keeps this equal to Alembic's single head.
SCHEMA_HEAD = "a5e1f7c3d014"
