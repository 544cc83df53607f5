"""The cashier's point of sale (issue 17, points 5 and 6; docs/cashless.md, "The till
page"): ``/pos`` lists the stands the caller may sell at, ``/pos/{stand_id}`` is the till.

The till's script (``js/pos.js``) sells through the JSON API with a short-lived access
token of the page's login, as the gate scanner does (renewed at ``/scan/token``): charges,
their reversal, the cash register. Paired as a point-of-sale device, it also sells with no
network, deciding on the device and uploading later. It is an offline app like the
scanner, with the same shell script and service worker source
(``scanner_shell.worker_script``), served here at ``/pos-sw.js`` with scope ``/pos``.
"""

from __future__ import annotations

import functools
import uuid
from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import Response

from admitone.cashless import till as tills
from admitone.deps import SessionDep, SettingsDep
from admitone.web.deps import RequiredLogin, page_router
from admitone.web.messages import error_text
from admitone.web.pages import scanner_shell
from admitone.web.security import access_token_for
from admitone.web.templating import render

router = page_router()

SCOPE = "/pos"
# Every static file the till page loads (tests/web/test_pos_page.py checks the page
# against this list): the worker precaches them, so the page opens with no network.
SHELL_FILES = (
    "css/app.css",
    "js/app.js",
    "img/favicon.svg",
    "js/scanner-shell.js",
    "js/offline-core.js",
    "js/qr-camera.js",
    "js/qr-worker.js",
    "vendor/jsqr/jsQR.js",
    "js/pos.js",
)
# The refusals the till's script may meet, in the reader's language (status: the text's
# fallback only; each code has its text in messages.py).
SCRIPT_ERROR_CODES = {
    "INSUFFICIENT_FUNDS": 402,
    "PASS_INVALID": 422,
    "PASS_REVOKED": 409,
    "WALLET_BLOCKED": 409,
    "STAND_INACTIVE": 409,
    "PRODUCT_NOT_FOUND": 404,
    "PRODUCT_INACTIVE": 409,
    "OUT_OF_STOCK": 409,
    "RETURN_NOT_DEPOSIT": 422,
    "SALE_TOTAL_NOT_POSITIVE": 422,
    "EVENT_CANCELLED": 409,
    "CASHLESS_NOT_ENABLED": 409,
    "REVERSAL_WINDOW_CLOSED": 409,
    "ENTRY_ALREADY_REVERSED": 409,
    "REGISTER_ALREADY_OPEN": 409,
    "REGISTER_CLOSED": 409,
    "PERMISSION_DENIED": 403,
    "VALIDATION_ERROR": 422,
    "BUSY": 503,
    # A desk's top-ups.
    "TOPUP_BELOW_MINIMUM": 422,
    "TOPUP_ABOVE_MAXIMUM": 422,
    "BALANCE_LIMIT_REACHED": 409,
    "REGISTER_NOT_FOUND": 404,
}


def shell_version() -> str:
    return scanner_shell.app_version(SHELL_FILES)


@functools.cache
def service_worker_script() -> str:
    return scanner_shell.worker_script(
        name="pos", scope=SCOPE, version=shell_version(), files=SHELL_FILES
    )


@router.get("/pos-sw.js")
def pos_service_worker() -> Response:
    return scanner_shell.worker_response(service_worker_script(), SCOPE)


@router.get("/pos")
def pos_stands(request: Request, session: SessionDep, login: RequiredLogin) -> Response:
    """The stands the caller may sell at, across their organizations."""
    choices = tills.stands_to_sell_at(session, user=login.user)
    return render(request, "pos/choose.html", {"choices": choices})


@router.get("/pos/{stand_id}")
def pos_till(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    login: RequiredLogin,
    stand_id: Annotated[uuid.UUID, Path()],
) -> Response:
    found = tills.till(session, user=login.user, stand_id=stand_id)
    return render(
        request,
        "pos/till.html",
        {
            "till": found,
            "stand": found.seller.stand,
            "event": found.seller.event,
            "currency": found.seller.event.currency,
            "unit_name": found.settings.unit_name,
            "access_token": access_token_for(login, settings),
            "token_minutes": settings.access_token_minutes,
            "reversal_minutes": settings.pos_reversal_minutes,
            "error_texts": {
                code: error_text(code, status) for code, status in SCRIPT_ERROR_CODES.items()
            },
        },
    )
