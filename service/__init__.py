"""service: the FastAPI app, the order cache, the client and the CLI."""
