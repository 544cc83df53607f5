"""The organizer's stands pages (issue 17, point 5): the event's stands, one stand with
its products and its cashiers, adding and changing them.

Like the JSON API (``cashless.pos_api.organizer_router``): reading needs
``view_events``, changing needs ``manage_events``, and every read and change goes
through ``cashless.stands``, the API's own services. Prices are typed in the event's
currency ("4.50", VAT included) and kept in minor units; every field error is shown at
once, next to its field, in the reader's language.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from admitone.authorization import OrgAccess, Permission, role_allows
from admitone.cashless import stands
from admitone.cashless.errors import ProductNotFound, StandNameTaken, StandNotFound
from admitone.cashless.models import Product, StandKind
from admitone.cashless.pos_schemas import ProductIn, ProductPatch, StandIn, StandPatch
from admitone.deps import SessionDep
from admitone.errors import DomainError
from admitone.events import service as events
from admitone.events.models import Event
from admitone.organizations import service as organizations
from admitone.web.deps import Form, form_str, page_org_access, page_router
from admitone.web.formatting import percent_of_bp
from admitone.web.forms import FieldProblem, minor_to_input, money_minor
from admitone.web.i18n import _
from admitone.web.messages import domain_error_text, field_errors
from admitone.web.pages.accounts import redirect
from admitone.web.pages.organizer import _org_context
from admitone.web.templating import render

router = page_router()

ViewAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.view_events))]
ManageAccess = Annotated[OrgAccess, Depends(page_org_access(Permission.manage_events))]
EventId = Annotated[uuid.UUID, Path()]
StandId = Annotated[uuid.UUID, Path()]
ProductId = Annotated[uuid.UUID, Path()]
UserId = Annotated[uuid.UUID, Path()]

# The VAT rates offered (basis points, VAT included in the price): the usual rates of the
# countries the platform serves; a product already at another rate keeps it in the list.
VAT_RATES_BP = (0, 210, 550, 600, 700, 900, 1000, 1200, 1300, 1900, 2000, 2100, 2500)


def kind_label(kind: str) -> str:
    return {
        StandKind.bar: _("Bar"),
        StandKind.food: _("Food"),
        StandKind.merchandise: _("Merchandise"),
        StandKind.topup_desk: _("Top-up desk"),
    }.get(StandKind(kind), kind)


def _kind_options() -> list[tuple[str, str]]:
    return [(kind.value, kind_label(kind)) for kind in StandKind]


def _vat_options(current: int | None = None) -> list[tuple[str, str]]:
    rates = sorted({*VAT_RATES_BP, *([current] if current is not None else [])})
    return [(str(rate), percent_of_bp(rate)) for rate in rates]


def _stands_url(access: OrgAccess, event_id: uuid.UUID) -> str:
    return f"/organizer/{access.organization.slug}/events/{event_id}/stands"


def _stand_url(access: OrgAccess, event_id: uuid.UUID, stand_id: uuid.UUID) -> str:
    return f"{_stands_url(access, event_id)}/{stand_id}"


def _service_errors(exc: DomainError) -> dict[str, str]:
    if isinstance(exc, StandNameTaken):
        return {"name": domain_error_text(exc)}
    return {"__all__": domain_error_text(exc)}


def _save(
    session: Session,
    save: Callable[[], object],
    errors: dict[str, str],
) -> dict[str, str]:
    """Run ``save`` (a service call) unless the form had errors; a refusal (not a 404,
    raised as it is) rolls back what the service did and becomes the form's errors."""
    if errors:
        return errors
    try:
        save()
    except DomainError as exc:
        if exc.status == 404:
            raise
        session.rollback()
        return _service_errors(exc)
    return {}


# --- the stands -----------------------------------------------------------------------------


def _stand_values(form: FormData, prefix: str = "") -> dict[str, Any]:
    """The stand's fields as typed; on a stand's own page they are named ``stand_...``
    (its page holds the product form too, whose fields are ``name`` ...)."""
    return {
        "name": form_str(form, prefix + "name"),
        "kind": form_str(form, prefix + "kind"),
        "active": form.get(prefix + "active") == "on",
    }


def _render_stands(
    request: Request,
    session: Session,
    access: OrgAccess,
    event: Event,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    views = stands.list_stands(session, access=access, event_id=event.id)
    return render(
        request,
        "organizer/stands.html",
        _org_context(
            access,
            event=event,
            views=views,
            values=values or {"name": "", "kind": StandKind.bar.value},
            errors=errors or {},
            kind_options=_kind_options(),
            kind_label=kind_label,
            active="cashless",
            cashless_active="stands",
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/stands")
def stands_page(
    request: Request, session: SessionDep, access: ViewAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return _render_stands(request, session, access, event)


@router.post("/organizer/{org}/events/{event_id}/stands")
def create_stand(
    request: Request, form: Form, session: SessionDep, access: ManageAccess, event_id: EventId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    values = _stand_values(form)
    body: StandIn | None = None
    errors: dict[str, str] = {}
    try:
        body = StandIn.model_validate({"name": values["name"], "kind": values["kind"]})
    except ValidationError as exc:
        errors = field_errors(exc)
    created: list[uuid.UUID] = []

    def save() -> None:
        assert body is not None
        view = stands.create_stand(
            session, access=access, event_id=event.id, name=body.name, kind=body.kind
        )
        created.append(view.stand.id)

    errors = _save(session, save, errors)
    if errors:
        return _render_stands(
            request, session, access, event, values=values, errors=errors, status_code=422
        )
    return redirect(_stand_url(access, event.id, created[0]), flash="stand_saved")


# --- one stand: its details, products and cashiers ----------------------------------------


def _product_values(product: Product | None, currency: str) -> dict[str, Any]:
    if product is None:
        return {
            "name": "",
            "price": "",
            "vat_rate_bp": "0",
            "category": "",
            "stock": "",
            "stock_was": "",
            "stock_add": "",
            "active": True,
            "deposit": False,
        }
    stock = "" if product.stock is None else str(product.stock)
    return {
        "name": product.name,
        "price": minor_to_input(product.price_minor, currency),
        "vat_rate_bp": str(product.vat_rate_bp),
        "category": product.category or "",
        "stock": stock,
        "stock_was": stock,
        "stock_add": "",
        "active": product.active,
        "deposit": product.deposit,
    }


def _typed_product_values(form: FormData) -> dict[str, Any]:
    return {
        "name": form_str(form, "name"),
        "price": form_str(form, "price"),
        "vat_rate_bp": form_str(form, "vat_rate_bp"),
        "category": form_str(form, "category"),
        "stock": form_str(form, "stock"),
        "stock_was": form_str(form, "stock_was"),
        "stock_add": form_str(form, "stock_add"),
        "active": form.get("active") == "on",
        "deposit": form.get("deposit") == "on",
    }


def _optional_count(form: FormData, name: str, errors: dict[str, str]) -> int | None:
    raw = form_str(form, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors[name] = _("Enter a whole number.")
        return None


def _product_payload(
    form: FormData, currency: str, allowed_rates: set[int]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's product fields from the form (before the schema), and the errors of the
    fields that cannot even be read."""
    errors: dict[str, str] = {}
    payload: dict[str, Any] = {
        "name": form_str(form, "name"),
        "category": form_str(form, "category") or None,
        "active": form.get("active") == "on",
        "deposit": form.get("deposit") == "on",
    }
    try:
        payload["price_minor"] = money_minor(form, "price", currency)
    except FieldProblem as problem:
        errors[problem.field] = problem.message
    rate = form_str(form, "vat_rate_bp")
    if rate.isdigit() and int(rate) in allowed_rates:
        payload["vat_rate_bp"] = int(rate)
    else:
        errors["vat_rate_bp"] = _("Choose one of the options.")
    payload["stock"] = _optional_count(form, "stock", errors)
    return payload, errors


def _schema_errors(exc: ValidationError) -> dict[str, str]:
    # The schema names the price ``price_minor``; the form names it ``price``.
    return {
        ("price" if name == "price_minor" else name): text
        for name, text in field_errors(exc).items()
    }


def _render_stand(
    request: Request,
    session: Session,
    access: OrgAccess,
    event: Event,
    stand_id: uuid.UUID,
    *,
    stand_values: dict[str, Any] | None = None,
    stand_errors: dict[str, str] | None = None,
    product_values: dict[str, Any] | None = None,
    product_errors: dict[str, str] | None = None,
    cashier_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    # The stand's products first: an unknown stand is its 404 (STAND_NOT_FOUND).
    products = stands.list_products(session, access=access, event_id=event.id, stand_id=stand_id)
    view = next(
        (
            found
            for found in stands.list_stands(session, access=access, event_id=event.id)
            if found.stand.id == stand_id
        ),
        None,
    )
    if view is None:
        raise StandNotFound()
    can_manage = access.allows(Permission.manage_events)
    # The members who may sell (cashiers, admins, owners): the cashier's select lists
    # those not yet assigned; the assigned ones are named. Only to who manages the event:
    # the team's names and addresses are not every reader's (the API gives ids).
    members = organizations.list_members(session, access=access) if can_manage else []
    sellers = [m for m in members if role_allows(m.role, Permission.sell_at_stand)]
    by_user = {m.user_id: m for m in members}
    assigned = [(user_id, by_user.get(user_id)) for user_id in view.cashier_ids]
    assignable = [m for m in sellers if m.user_id not in set(view.cashier_ids)]
    return render(
        request,
        "organizer/stand.html",
        _org_context(
            access,
            event=event,
            stand=view.stand,
            products=products,
            assigned=assigned,
            member_options=[
                (str(m.user_id), f"{m.user.full_name or m.user.email} ({m.user.email})")
                for m in assignable
            ]
            if can_manage
            else [],
            stand_values=stand_values
            or {
                "name": view.stand.name,
                "kind": view.stand.kind.value,
                "active": view.stand.active,
            },
            stand_errors=stand_errors or {},
            product_values=product_values or _product_values(None, event.currency),
            product_errors=product_errors or {},
            cashier_errors=cashier_errors or {},
            kind_options=_kind_options(),
            kind_label=kind_label,
            vat_options=_vat_options(),
            active="cashless",
            cashless_active="stands",
        ),
        status_code=status_code,
    )


@router.get("/organizer/{org}/events/{event_id}/stands/{stand_id}")
def stand_page(
    request: Request, session: SessionDep, access: ViewAccess, event_id: EventId, stand_id: StandId
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    return _render_stand(request, session, access, event, stand_id)


@router.post("/organizer/{org}/events/{event_id}/stands/{stand_id}")
def update_stand(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stand_id: StandId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    values = _stand_values(form, "stand_")
    errors: dict[str, str] = {}
    body: StandPatch | None = None
    try:
        body = StandPatch.model_validate(values)
    except ValidationError as exc:
        errors = field_errors(exc)

    def save() -> None:
        assert body is not None
        stands.update_stand(
            session, access=access, event_id=event.id, stand_id=stand_id, changes=body.changes()
        )

    errors = _save(session, save, errors)
    if errors:
        return _render_stand(
            request,
            session,
            access,
            event,
            stand_id,
            stand_values=values,
            stand_errors={
                (name if name == "__all__" else "stand_" + name): text
                for name, text in errors.items()
            },
            status_code=422,
        )
    return redirect(_stand_url(access, event.id, stand_id), flash="stand_saved")


@router.post("/organizer/{org}/events/{event_id}/stands/{stand_id}/products")
def create_product(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stand_id: StandId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    payload, errors = _product_payload(form, event.currency, set(VAT_RATES_BP))
    body: ProductIn | None = None
    try:
        body = ProductIn.model_validate({k: v for k, v in payload.items() if k not in errors})
    except ValidationError as exc:
        errors = {**_schema_errors(exc), **errors}

    def save() -> None:
        assert body is not None
        stands.create_product(
            session,
            access=access,
            event_id=event.id,
            stand_id=stand_id,
            fields=body.model_dump(),
        )

    errors = _save(session, save, errors)
    if errors:
        return _render_stand(
            request,
            session,
            access,
            event,
            stand_id,
            product_values=_typed_product_values(form),
            product_errors=errors,
            status_code=422,
        )
    return redirect(_stand_url(access, event.id, stand_id), flash="product_saved")


def _product(
    session: Session, access: OrgAccess, event: Event, stand_id: uuid.UUID, product_id: uuid.UUID
) -> Product:
    found = next(
        (
            product
            for product in stands.list_products(
                session, access=access, event_id=event.id, stand_id=stand_id
            )
            if product.id == product_id
        ),
        None,
    )
    if found is None:
        raise ProductNotFound()
    return found


def _render_product(
    request: Request,
    access: OrgAccess,
    event: Event,
    product: Product,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "organizer/product_form.html",
        _org_context(
            access,
            event=event,
            product=product,
            values=values,
            errors=errors,
            vat_options=_vat_options(product.vat_rate_bp),
            active="cashless",
            cashless_active="stands",
        ),
        status_code=status_code,
    )


_PRODUCT_EDIT = "/organizer/{org}/events/{event_id}/stands/{stand_id}/products/{product_id}/edit"


@router.get(_PRODUCT_EDIT)
def edit_product_page(
    request: Request,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stand_id: StandId,
    product_id: ProductId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    product = _product(session, access, event, stand_id, product_id)
    return _render_product(
        request, access, event, product, values=_product_values(product, event.currency), errors={}
    )


@router.post(_PRODUCT_EDIT)
def update_product(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stand_id: StandId,
    product_id: ProductId,
) -> Response:
    """The product's fields; its stock is set only if the typed count differs from the
    one the form showed (``stock_was``), so saving a rename does not undo the sales made
    since the form was opened; ``stock_add`` adds to it (``stands.update_product``'s
    conditional update, which loses no sale)."""
    event = events.get_event(session, access=access, event_id=event_id)
    product = _product(session, access, event, stand_id, product_id)
    payload, errors = _product_payload(form, event.currency, {*VAT_RATES_BP, product.vat_rate_bp})
    if form_str(form, "stock") == form_str(form, "stock_was"):
        payload.pop("stock", None)
    added = _optional_count(form, "stock_add", errors)
    if added is not None:
        payload["stock_add"] = added
    body: ProductPatch | None = None
    try:
        body = ProductPatch.model_validate({k: v for k, v in payload.items() if k not in errors})
    except ValidationError as exc:
        errors = {**_schema_errors(exc), **errors}

    def save() -> None:
        assert body is not None
        stands.update_product(
            session,
            access=access,
            event_id=event.id,
            stand_id=stand_id,
            product_id=product.id,
            changes=body.changes(),
            stock_added=body.stock_add,
        )

    errors = _save(session, save, errors)
    if errors.get("__all__") and added is not None:
        errors = {"stock_add": errors["__all__"]}  # the stock would go below zero
    if errors:
        return _render_product(
            request,
            access,
            event,
            product,
            values=_typed_product_values(form),
            errors=errors,
            status_code=422,
        )
    return redirect(_stand_url(access, event.id, stand_id), flash="product_saved")


@router.post("/organizer/{org}/events/{event_id}/stands/{stand_id}/cashiers")
def assign_cashier(
    request: Request,
    form: Form,
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stand_id: StandId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    errors: dict[str, str] = {}
    try:
        member = uuid.UUID(form_str(form, "member"))
    except ValueError:
        errors = {"member": _("Choose one of the options.")}
    else:

        def save() -> None:
            stands.assign_cashier(
                session, access=access, event_id=event.id, stand_id=stand_id, user_id=member
            )

        try:
            errors = _save(session, save, {})
        except DomainError as exc:
            if exc.code == "STAND_NOT_FOUND":
                raise
            errors = {"member": _("Choose one of the options.")}  # not a member (404)
        if "__all__" in errors:
            errors = {"member": errors["__all__"]}
    if errors:
        return _render_stand(
            request, session, access, event, stand_id, cashier_errors=errors, status_code=422
        )
    return redirect(_stand_url(access, event.id, stand_id), flash="cashier_assigned")


@router.post("/organizer/{org}/events/{event_id}/stands/{stand_id}/cashiers/{user_id}/remove")
def unassign_cashier(
    session: SessionDep,
    access: ManageAccess,
    event_id: EventId,
    stand_id: StandId,
    user_id: UserId,
) -> Response:
    event = events.get_event(session, access=access, event_id=event_id)
    stands.unassign_cashier(
        session, access=access, event_id=event.id, stand_id=stand_id, user_id=user_id
    )
    return redirect(_stand_url(access, event.id, stand_id), flash="cashier_removed")
