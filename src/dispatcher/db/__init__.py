"""Persistence: SQLAlchemy tables, engine setup, repositories, unit of work, migrations."""
