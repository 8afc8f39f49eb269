"""Ponder's GUI-free runtime: GGUF metadata, the engine process, reasoning parsing, the CLI."""

__version__ = "0.1.0"
