"""Cashless JSON routes: the organizer's settings and wallets, the attendee's own wallet."""

from __future__ import annotations

from fastapi import APIRouter

# /api/v1/organizations/{org}/events/{event_id}/cashless...
organizer_router = APIRouter(tags=["cashless"])
# /api/v1/me/wallets...
me_router = APIRouter(tags=["cashless"])
