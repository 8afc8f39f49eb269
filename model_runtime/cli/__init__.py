"""`python -m model_runtime`: one module per command, shared helpers in common."""
