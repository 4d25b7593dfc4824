"""The HTTP layer: thin FastAPI routers over openreel.service."""
