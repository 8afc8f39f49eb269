"""GGUF files: the metadata reader, a model's memory profile, quantization names."""
