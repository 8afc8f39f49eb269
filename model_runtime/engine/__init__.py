"""The engine: a child process that owns the llama.cpp model, and the client that drives it."""

from model_runtime.engine.client import EngineClient

__all__ = ["EngineClient"]
