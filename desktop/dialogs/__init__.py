"""Dialogs outside the chat: the first-run welcome, About, crash reports."""
