"""Models on disk and on the Hub: the store, imports, downloads, the catalog, the starter model."""
