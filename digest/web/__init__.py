"""The subscription and archive site (`digest serve`): a Starlette app served by uvicorn."""

from .app import create_app

__all__ = ["create_app"]
