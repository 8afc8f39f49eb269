"""llama.cpp itself: what the build can do, tensor placement overrides, RPC workers."""
