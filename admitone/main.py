"""ASGI entry point for uvicorn: ``admitone.main:app``."""

from admitone.app import create_app

app = create_app()
