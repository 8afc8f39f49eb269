"""The model manager: recommended models, Hub search, downloads, the models on this computer."""
