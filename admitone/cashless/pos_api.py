"""Point-of-sale JSON routes: the organizer's stands and products, the cashiers' sales."""

from __future__ import annotations

from fastapi import APIRouter

# /api/v1/organizations/{org}/events/{event_id}/stands...
organizer_router = APIRouter(tags=["point of sale"])
# /api/v1/pos/...
router = APIRouter(tags=["point of sale"])
