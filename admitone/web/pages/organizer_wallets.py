"""The organizer's wallet desk (issue 17): find an attendee's wallet by e-mail, name or
printed code, see its money and state, block or unblock it, replace a lost pass.

Like the JSON API (``cashless.api.organizer_router``): finding needs ``view_events``,
blocking ``manage_events``, a new pass ``replace_wallet_passes`` (organizers and
cashiers, who staff the desks); every read and change goes through ``cashless.wallets``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admitone.authorization import OrgAccess, Permission
from admitone.cashless import wallets
from admitone.cashless.models import WalletStatus
from admitone.cashless.schemas import PassReplaceIn
from admitone.db import utcnow
from admitone.deps import SessionDep
from admitone.errors import DomainError
from admitone.events import service as events
from admitone.events.models import Event
from admitone.web.deps import Form, form_str, page_org_access, page_router
from admitone.web.i18n import _
from admitone.web.messages import domain_error_text, field_errors
from admitone.web.pages.accounts import redirect
from admitone.web.pages.organizer import _org_context
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_events))]
PassAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.replace_wallet_passes))]
EventId = Annotated[uuid.UUID, Path()]
WalletId = Annotated[uuid.UUID, Path()]
PER_PAGE = 20
_DESK = "/organizer/{org}/events/{event_id}/cashless/wallets"


def status_label(status: str) -> str:
    return {
        WalletStatus.active: _("Active"),
        WalletStatus.blocked: _("Blocked"),
        WalletStatus.payout_pending: _("Being paid back"),
        WalletStatus.closed: _("Closed"),
    }.get(WalletStatus(status), status)


def _desk_url(access: OrgAccess, event_id: uuid.UUID, search: str) -> str:
    url = f"/organizer/{access.organization.slug}/events/{event_id}/cashless/wallets"
    return url + (f"?{urlencode({'search': search})}" if search else "")


def _render_desk(
    request: Request,
    session: Session,
    access: OrgAccess,
    event: Event,
    *,
    search: str,
    page: int = 1,
    notice: str | None = None,
    pass_errors: dict[uuid.UUID, str] | None = None,
    reasons: dict[uuid.UUID, str] | None = None,
    status_code: int = 200,
) -> Response:
    found, total = wallets.find_wallets(
        session, access=access, event_id=event.id, search=search, page=page, per_page=PER_PAGE
    )
    pages = max(1, -(-total // PER_PAGE))
    return render(
        request,
        "organizer/cashless_wallets.html",
        _org_context(
            access,
            event=event,
            search=search,
            found=found,
            total=total,
            page=page,
            pages=pages,
            notice=notice,
            pass_errors=pass_errors or {},
            reasons=reasons or {},
            wallet_status_label=status_label,
            can_replace_passes=access.allows(Permission.replace_wallet_passes),
            active="cashless",
            cashless_active="wallets",
        ),
        status_code=status_code,
    )


@router.get(_DESK)
def wallet_desk(
    request: Request,
    session: SessionDep,
    access: ViewAccess,
    event_id: EventId,
    search: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return _render_desk(request, session, access, event, search=search.strip(), page=page)


def _set_blocked(
    request: Request,
    form: Any,
    session: Session,
    access: OrgAccess,
    event_id: uuid.UUID,
    wallet_id: uuid.UUID,
    *,
    blocked: bool,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    search = form_str(form, "search")[:200]
    try:
        wallets.set_wallet_blocked(
            session,
            access=access,
            event_id=event.id,
            wallet_id=wallet_id,
            blocked=blocked,
            now=utcnow(),
        )
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()  # a wallet being paid back or closed stays as it is
        return _render_desk(
            request,
            session,
            access,
            event,
            search=search,
            notice=domain_error_text(exc),
            status_code=exc.status,
        )
    return redirect(
        _desk_url(access, event.id, search),
        flash="wallet_blocked" if blocked else "wallet_unblocked",
    )


@router.post(_DESK + "/{wallet_id}/block")
def block_wallet(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    wallet_id: WalletId,
) -> Response:
    return _set_blocked(request, form, session, access, event_id, wallet_id, blocked=True)


@router.post(_DESK + "/{wallet_id}/unblock")
def unblock_wallet(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    wallet_id: WalletId,
) -> Response:
    return _set_blocked(request, form, session, access, event_id, wallet_id, blocked=False)


@router.post(_DESK + "/{wallet_id}/replace-pass")
def replace_pass(
    request: Request,
    form: Form,
    session: SessionDep,
    access: PassAccess,
    event_id: EventId,
    wallet_id: WalletId,
) -> Response:
    """A lost phone or wristband: the reason is required (it is kept with the revoked
    pass); the old pass is refused from now on, the money stays."""
    event = events.get_event(session, access=access, event_id=event_id)
    search = form_str(form, "search")[:200]
    reason = form_str(form, "reason")
    try:
        body = PassReplaceIn.model_validate({"reason": reason})
    except ValidationError as exc:
        error = field_errors(exc).get("reason", _("This value is not valid."))
        return _render_desk(
            request,
            session,
            access,
            event,
            search=search,
            pass_errors={wallet_id: error},
            reasons={wallet_id: reason},
            status_code=422,
        )
    wallets.replace_pass(
        session,
        access=access,
        event_id=event.id,
        wallet_id=wallet_id,
        reason=body.reason,
        now=utcnow(),
    )
    return redirect(_desk_url(access, event.id, search), flash="wallet_pass_replaced")
