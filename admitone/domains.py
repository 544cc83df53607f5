"""Every domain of Admit One, registered in one place.

An entry names a domain's JSON routers, its page routers, the modules that define its
jobs and its periodic jobs. The app mounts the routers (``app.py``), the job registry
imports the job modules (``jobs/registry.py``), and the scheduler runs the periodic
jobs: Celery beat with Redis (``jobs/celery_app.py``), the app's in-process loops
without (``jobs/periodic.py``). Adding a domain is adding an entry here
(docs/adding-a-domain.md).

Routers are named ``"module:attribute"`` and imported only when the app asks for them:
this table is also read by Celery workers and the command line, which need the job
modules but neither the routers nor the web front. That also makes this module, with
``app.py``, the only one outside ``admitone/web`` that may load the web front.

Order: routers are matched in the order listed, domain after domain, the JSON routers
(under ``/api/v1``) before the pages. The order is for speed only (the buying and scanning
routes are the busiest, so their domains come first): no two routes share a path
pattern (``tests/test_routes.py``), so it never decides which route answers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from admitone.config import Settings

if TYPE_CHECKING:
    from fastapi import APIRouter


def _always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class PeriodicJob:
    """A job run on a schedule: by Celery beat with Redis, by an in-process loop of each
    app process without (the embedded mode). The job takes no argument."""

    job: str  # a job of the domain, "<domain>.<verb>"
    every_seconds: Callable[[Settings], float]
    # Whether the embedded mode's loop runs it: a setting may switch that loop off (the
    # hold sweep's ADMITONE_HOLD_SWEEP_ENABLED). Beat runs every periodic job it is given.
    in_process: Callable[[Settings], bool] = _always


@dataclass(frozen=True)
class Domain:
    """One business domain: ``admitone/<name>/``, its routes, pages and jobs."""

    name: str
    # "module:attribute" of each APIRouter: JSON routes mounted under /api/v1.
    api_routers: tuple[str, ...] = ()
    # "module:attribute" of each page router (admitone/web/pages/), mounted at the root.
    page_routers: tuple[str, ...] = ()
    # Modules whose import registers the domain's jobs (the ``@job`` decorator).
    job_modules: tuple[str, ...] = ()
    periodic_jobs: tuple[PeriodicJob, ...] = ()


DOMAINS: tuple[Domain, ...] = (
    Domain(
        "orders",
        api_routers=("admitone.orders.api:router", "admitone.orders.api:organizer_router"),
        page_routers=(
            "admitone.web.pages.checkout:router",
            "admitone.web.pages.organizer_sales:router",
        ),
        job_modules=("admitone.orders.tasks",),
        periodic_jobs=(
            PeriodicJob(
                "orders.expire_holds",
                every_seconds=lambda settings: settings.hold_sweep_interval_seconds,
                in_process=lambda settings: settings.hold_sweep_enabled,
            ),
            PeriodicJob(
                "orders.catch_up_cancelled_refunds",
                every_seconds=lambda settings: settings.refund_catch_up_interval_seconds,
            ),
        ),
    ),
    Domain(
        "payments",
        api_routers=("admitone.payments.api:router",),
        # The built-in test provider's checkout page.
        page_routers=("admitone.web.pages.checkout:test_provider",),
    ),
    Domain(
        "checkin",
        api_routers=(
            "admitone.checkin.api:router",
            "admitone.checkin.api:lists_router",
            "admitone.checkin.api:devices_router",
            "admitone.checkin.api:scan_router",
            "admitone.checkin.api:conflicts_router",
        ),
        page_routers=(
            "admitone.web.pages.scanner:router",
            # The organizer's pages for check-in lists and their statistics.
            "admitone.web.pages.organizer_checkin:router",
            "admitone.web.pages.organizer_gates:router",
            # The scanner's installable offline shell: manifest and service worker.
            "admitone.web.pages.scanner_shell:router",
        ),
    ),
    Domain("tickets", api_routers=("admitone.tickets.api:router",)),
    Domain(
        "events",
        api_routers=("admitone.events.api:public_router", "admitone.events.api:organizer_router"),
        # organizer.py also holds the organizer's home and team pages (organizations).
        page_routers=(
            "admitone.web.pages.catalogue:router",
            "admitone.web.pages.organizer:router",
        ),
    ),
    Domain(
        "accounts",
        api_routers=("admitone.accounts.api:router",),
        page_routers=(
            "admitone.web.pages.accounts:router",
            "admitone.web.pages.account_security:router",
            "admitone.web.pages.oidc:router",
        ),
        job_modules=("admitone.accounts.tasks",),
    ),
    Domain(
        "twofactor",
        api_routers=("admitone.twofactor.api:router",),
        page_routers=("admitone.web.pages.security:router",),
    ),
    Domain(
        "organizations",
        api_routers=(
            "admitone.organizations.api:router",
            "admitone.organizations.api:platform_router",
        ),
    ),
    Domain(
        "notifications",
        api_routers=("admitone.notifications.api:router",),
        page_routers=("admitone.web.pages.downloads:router",),
        job_modules=("admitone.notifications.tasks",),
        periodic_jobs=(
            PeriodicJob(
                "notifications.send_event_reminders",
                every_seconds=lambda settings: settings.reminder_interval_seconds,
            ),
            PeriodicJob(
                "notifications.catch_up_confirmations",
                every_seconds=lambda settings: settings.confirmation_catch_up_interval_seconds,
            ),
        ),
    ),
    Domain(
        "lineup",
        api_routers=(
            "admitone.lineup.api:organizer_router",
            "admitone.lineup.api:public_router",
            "admitone.lineup.api:me_router",
        ),
        # The public programme and "my schedule"; the organizer's timetable and forms.
        page_routers=(
            "admitone.web.pages.programme:router",
            "admitone.web.pages.organizer_lineup:router",
        ),
        job_modules=("admitone.lineup.tasks",),
    ),
    # Last: the festival's routes carry no ticket sale, so the hot routes are matched first.
    Domain(
        "cashless",
        api_routers=(
            "admitone.cashless.pos_api:router",
            "admitone.cashless.pos_api:organizer_router",
            "admitone.cashless.api:organizer_router",
            "admitone.cashless.api:me_router",
            "admitone.cashless.reports_api:router",
            "admitone.cashless.payouts_api:me_router",
            "admitone.cashless.payouts_api:organizer_router",
        ),
        # The attendee's wallets ("My wallet"), the cashiers' till (and its offline shell).
        page_routers=(
            "admitone.web.pages.wallet:router",
            "admitone.web.pages.pos:router",
            "admitone.web.pages.organizer_cashless:router",
            "admitone.web.pages.organizer_stands:router",
            "admitone.web.pages.organizer_cashless_reports:router",
            "admitone.web.pages.organizer_wallets:router",
        ),
    ),
)


def load(reference: str) -> object:
    """The object a ``"module:attribute"`` reference names (importing the module)."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def _routers(references: list[str]) -> list[APIRouter]:
    from fastapi import APIRouter  # here: the job registry reads this module too

    routers = []
    for reference in references:
        router = load(reference)
        if not isinstance(router, APIRouter):
            raise TypeError(f"{reference} is not an APIRouter but {type(router).__name__}")
        routers.append(router)
    return routers


def api_routers() -> list[APIRouter]:
    """Every domain's JSON routers, in the order of DOMAINS (mounted under /api/v1)."""
    return _routers([name for domain in DOMAINS for name in domain.api_routers])


def page_routers() -> list[APIRouter]:
    """Every domain's page routers, in the order of DOMAINS."""
    return _routers([name for domain in DOMAINS for name in domain.page_routers])


def job_modules() -> list[str]:
    return [module for domain in DOMAINS for module in domain.job_modules]


def periodic_jobs() -> list[PeriodicJob]:
    return [periodic for domain in DOMAINS for periodic in domain.periodic_jobs]
