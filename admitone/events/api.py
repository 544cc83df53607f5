"""Events API (filled in by the events work)."""

from fastapi import APIRouter

organizer_router = APIRouter(tags=["events (organizer)"])
public_router = APIRouter(tags=["catalogue"])
