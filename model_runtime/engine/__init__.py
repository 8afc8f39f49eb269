"""The engine: a child process that owns the llama.cpp model, and the client that drives it."""

from .client import EngineClient

__all__ = ["EngineClient"]
