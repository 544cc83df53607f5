"""The organizer's cashless settings page for an event (issue 17).

Like the JSON API (``cashless.api``): reading needs ``view_events``, changing needs
``manage_events``, and both go through ``cashless.settings``. Amounts are typed in the
event's currency ("12.50") and kept in minor units; every field error is shown at once,
next to its field, in the reader's language.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from admitone.authorization import OrgAccess, Permission
from admitone.cashless import settings as cashless_settings
from admitone.cashless.schemas import CashlessSettingsIn
from admitone.deps import SessionDep
from admitone.errors import InvalidInput
from admitone.web.deps import Form, form_str, page_org_access, page_router
from admitone.web.forms import FieldProblem, minor_to_input, money_minor, whole_number
from admitone.web.i18n import _
from admitone.web.messages import field_errors
from admitone.web.pages.accounts import redirect
from admitone.web.pages.organizer import _org_context
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path()]

MONEY_FIELDS = cashless_settings.MONEY_SETTINGS
WHOLE_FIELDS = ("pass_validity_minutes", "refund_window_days")
CHECKBOXES = ("enabled", "wallet_with_ticket")


def _rule_texts() -> dict[str, str]:
    """The page's text for each rule between fields the service checks, by field."""
    return {
        "topup_minimum_minor": _("The minimum top-up must be above zero."),
        "topup_maximum_minor": _("The maximum top-up must not be below the minimum."),
        "balance_maximum_minor": _("The highest balance must not be below the minimum top-up."),
        "offline_sale_cap_minor": _("The offline cap per sale must not be above the cap per pass."),
        "donation_recipient": _("Name who receives the unclaimed balances."),
    }


def _shown_values(found: cashless_settings.EventCashless) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: getattr(found.values, name)
        for name in (*CHECKBOXES, *WHOLE_FIELDS, "unclaimed_policy")
    }
    values["unit_name"] = found.values.unit_name or ""
    values["donation_recipient"] = found.values.donation_recipient or ""
    for name in MONEY_FIELDS:
        values[name] = minor_to_input(getattr(found.values, name), found.currency)
    if not found.configured:
        values["enabled"] = True  # the form turns cashless on unless told otherwise
    return values


def _typed_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: form_str(form, name)
        for name in (*MONEY_FIELDS, *WHOLE_FIELDS, "unit_name", "donation_recipient")
    }
    values.update({name: form.get(name) == "on" for name in CHECKBOXES})
    values["unclaimed_policy"] = (
        "donate" if form_str(form, "unclaimed_policy") == "donate" else "keep"
    )
    return values


def _parse(form: FormData, currency: str) -> tuple[CashlessSettingsIn | None, dict[str, str]]:
    """The API's body from the form, or every field error at once."""
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {name: form.get(name) == "on" for name in CHECKBOXES}
    for name in MONEY_FIELDS:
        try:
            payload[name] = money_minor(form, name, currency)
        except FieldProblem as problem:
            errors[problem.field] = problem.message
    for name in WHOLE_FIELDS:
        try:
            payload[name] = whole_number(form, name)
        except FieldProblem as problem:
            errors[problem.field] = problem.message
    payload["unit_name"] = form_str(form, "unit_name") or None
    payload["unclaimed_policy"] = (
        "donate" if form_str(form, "unclaimed_policy") == "donate" else "keep"
    )
    payload["donation_recipient"] = form_str(form, "donation_recipient") or None
    try:
        body = CashlessSettingsIn.model_validate(
            {name: value for name, value in payload.items() if name not in errors}
        )
    except ValidationError as exc:
        return None, {**field_errors(exc), **errors}
    return (None if errors else body), errors


def _render(
    request: Request,
    access: OrgAccess,
    found: cashless_settings.EventCashless,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "organizer/cashless.html",
        _org_context(
            access,
            event=found.event,
            found=found,
            values=values,
            errors=errors,
            active="cashless",
        ),
        status_code=status_code,
    )


def _url(access: OrgAccess, event_id: uuid.UUID) -> str:
    return f"/organizer/{access.organization.slug}/events/{event_id}/cashless"


@router.get("/organizer/{org}/events/{event_id}/cashless")
def cashless_page(
    request: Request, session: SessionDep, access: ViewAccess, event_id: EventId
) -> Response:
    found = cashless_settings.get_cashless(session, access=access, event_id=event_id)
    return _render(request, access, found, values=_shown_values(found), errors={})


@router.post("/organizer/{org}/events/{event_id}/cashless")
def save_cashless(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    found = cashless_settings.get_cashless(session, access=access, event_id=event_id)
    body, errors = _parse(form, found.currency)
    if body is not None:
        try:
            cashless_settings.set_cashless(
                session, access=access, event_id=event_id, values=body.values()
            )
        except InvalidInput as exc:
            session.rollback()
            texts = _rule_texts()
            errors = {
                problem["field"]: texts.get(problem["field"], _("Some fields are invalid."))
                for problem in exc.details.get("errors", [])
            }
        else:
            return redirect(_url(access, event_id), flash="cashless_saved")
    return _render(
        request, access, found, values=_typed_values(form), errors=errors, status_code=422
    )
