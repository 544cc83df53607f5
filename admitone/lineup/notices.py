"""The mail telling an attendee that a slot they starred moved or was cancelled.

Built like the other mails (text and HTML from notifications/templates/<locale>/, the
account's language, times in the event's zone with its name) and sent once per change
and attendee: the ``deliveries`` marker and the Message-ID are keyed by a name-based
UUID of (change, user), so a re-run job sends nothing new (docs/mail.md, "Once").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from admitone.accounts.models import User
from admitone.config import Settings
from admitone.db import Database
from admitone.events.models import Event, EventStatus
from admitone.languages import supported_language
from admitone.lineup.models import Artist, ScheduleStar, Slot, SlotChange, SlotChangeKind, Stage
from admitone.notifications import documents
from admitone.notifications.mailer import get_mailer, header_text, new_message
from admitone.notifications.service import (
    _message_id,
    _templates,
    already_delivered,
    record_delivery,
)
from admitone.organizations.models import Organization

log = structlog.get_logger(__name__)

KIND = "slot_changed"


def marker_id(change_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    """The (change, attendee) pair as one id: the delivery marker's object."""
    return uuid.uuid5(change_id, str(user_id))


@dataclass(frozen=True)
class ChangeFacts:
    change: SlotChange
    slot: Slot
    stage: Stage
    old_stage: Stage
    artist: Artist
    event: Event
    organizer: Organization


def _load(session: Session, change_id: uuid.UUID) -> ChangeFacts | None:
    change = session.get(SlotChange, change_id)
    if change is None:
        return None
    slot = session.get(Slot, change.slot_id)
    if slot is None:
        return None
    event = session.get(Event, slot.event_id)
    if event is None or event.status != EventStatus.published:
        return None  # a draft has no public; a cancelled event has its own message
    stage, old_stage = session.get(Stage, slot.stage_id), session.get(Stage, change.old_stage_id)
    artist = session.get(Artist, slot.artist_id)
    organizer = session.get(Organization, event.organization_id)
    assert stage and old_stage and artist and organizer  # foreign keys
    return ChangeFacts(change, slot, stage, old_stage, artist, event, organizer)


def _message(facts: ChangeFacts, user: User, settings: Settings) -> EmailMessage:
    locale = supported_language(user.locale)
    event, slot = facts.event, facts.slot

    def when(moment: Any) -> str:
        return documents.local_time(moment, event.timezone, locale)

    values = {
        "locale": locale,
        "name": user.full_name,
        "event": event,
        "artist": facts.artist.name,
        # Subjects carry no free text of an unverified organizer (docs/mail.md).
        "organizer_verified": facts.organizer.verified,
        "organizer": facts.organizer.name,
        "cancelled": facts.change.kind == SlotChangeKind.cancelled,
        "was_stage": facts.old_stage.name,
        "was_when": when(facts.change.old_starts_at),
        "now_stage": facts.stage.name,
        "now_when": when(slot.starts_at),
        "programme_url": f"{settings.public_url.rstrip('/')}/events/{event.slug}/programme",
    }
    environment = _templates()
    text_template = environment.get_template(f"{locale}/{KIND}.txt")
    html_template = environment.get_template(f"{locale}/{KIND}.html")
    module: Any = text_template.make_module(values)
    message = new_message()
    message["Subject"] = header_text(str(module.subject))
    message["From"] = settings.mail_from
    message["To"] = formataddr((header_text(user.full_name), user.email))
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = _message_id(settings, KIND, marker_id(facts.change.id, user.id))
    message.set_content(str(module))
    message.add_alternative(html_template.render(values), subtype="html")
    message["Content-Language"] = locale
    return message


def send_change_notices(database: Database, settings: Settings, *, change_id: uuid.UUID) -> int:
    """Mail each active account that starred the changed slot, once; how many went out.

    A message the server refuses raises (the job is retried, and the markers already
    written keep the others from being sent twice)."""
    with database.session(write=False) as session:
        facts = _load(session, change_id)
        if facts is None:
            return 0
        users = list(
            session.scalars(
                select(User)
                .join(ScheduleStar, ScheduleStar.user_id == User.id)
                .where(ScheduleStar.slot_id == facts.slot.id, User.is_active.is_(True))
                .order_by(User.id)
            )
        )
    sent = 0
    for user in users:
        marker = marker_id(change_id, user.id)
        with database.session(write=False) as session:
            if already_delivered(session, kind=KIND, object_id=marker):
                continue
        message = _message(facts, user, settings)
        get_mailer(settings).send(message)
        if not record_delivery(
            database,
            kind=KIND,
            object_id=marker,
            recipient=user.email,
            message_id=str(message["Message-ID"]),
        ):
            log.warning("mail sent twice (a concurrent run)", kind=KIND, object_id=str(marker))
        sent += 1
    return sent
