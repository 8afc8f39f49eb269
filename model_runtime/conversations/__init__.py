"""Conversations on disk: SQLite with migrations, branches, search, export and import."""
