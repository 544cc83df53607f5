"""The domain registry (admitone/domains.py): every entry resolves, and a domain
registered there alone gets its routes mounted, its jobs known and its periodic job
scheduled, by Celery beat and by the embedded loop."""

from __future__ import annotations

import time

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from admitone import domains
from admitone.jobs import JobContext, job, registered_jobs
from admitone.jobs.celery_app import make_celery
from admitone.jobs.periodic import schedule

# --- a throwaway domain, as small as one can be -------------------------------------

api_router = APIRouter(prefix="/throwaway", tags=["throwaway"])
page_router = APIRouter(include_in_schema=False)
_ticks: list[float] = []  # when throwaway.tick ran


@api_router.get("/ping")
def ping() -> dict[str, str]:
    return {"data": "pong"}


@page_router.get("/throwaway")
def page() -> dict[str, str]:
    return {"page": "throwaway"}


@job("throwaway.tick")
def tick(context: JobContext) -> None:
    _ticks.append(time.monotonic())


THROWAWAY = domains.Domain(
    "throwaway",
    api_routers=(f"{__name__}:api_router",),
    page_routers=(f"{__name__}:page_router",),
    job_modules=(__name__,),
    periodic_jobs=(domains.PeriodicJob("throwaway.tick", every_seconds=lambda s: 0.05),),
)


@pytest.fixture
def with_throwaway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(domains, "DOMAINS", (*domains.DOMAINS, THROWAWAY))


# --- the registry as it is ---------------------------------------------------------------


def test_every_registered_router_and_job_module_resolves() -> None:
    assert domains.api_routers() and domains.page_routers()
    jobs = registered_jobs()
    for domain in domains.DOMAINS:
        for module in domain.job_modules:
            assert module.startswith(f"admitone.{domain.name}."), module
        for periodic in domain.periodic_jobs:
            assert periodic.job.startswith(f"{domain.name}."), periodic.job
            assert periodic.job in jobs, periodic.job
    # A domain's job modules define jobs named after it ("<domain>.<verb>").
    modules = {module: domain.name for domain in domains.DOMAINS for module in domain.job_modules}
    for name, function in jobs.items():
        if function.__module__ in modules:
            assert name.startswith(f"{modules[function.__module__]}."), name
    assert {function.__module__ for function in jobs.values()} >= set(modules)


def test_a_reference_that_is_not_a_router_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = domains.Domain("wrong", api_routers=(f"{__name__}:THROWAWAY",))
    monkeypatch.setattr(domains, "DOMAINS", (wrong,))
    with pytest.raises(TypeError, match="is not an APIRouter"):
        domains.api_routers()


# --- a domain registered in domains.py alone --------------------------------------------


def test_a_registered_domain_gets_its_routes_mounted(with_throwaway, make_app) -> None:
    with TestClient(make_app()) as client:
        assert client.get("/api/v1/throwaway/ping").json() == {"data": "pong"}
        assert client.get("/throwaway").json() == {"page": "throwaway"}
        assert "/api/v1/throwaway/ping" in client.get("/openapi.json").json()["paths"]


def test_a_registered_domain_gets_its_jobs_and_schedule(with_throwaway, make_settings) -> None:
    assert "throwaway.tick" in registered_jobs()
    settings = make_settings(redis_url="redis://127.0.0.1:1/0")  # never connected to
    assert schedule(settings)["throwaway.tick"] == 0.05
    celery = make_celery(settings)
    assert celery.conf.beat_schedule["throwaway.tick"] == {
        "task": "throwaway.tick",
        "schedule": 0.05,
    }
    assert "throwaway.tick" in celery.tasks


def test_the_embedded_mode_runs_a_registered_periodic_job(with_throwaway, make_app) -> None:
    started = time.monotonic()
    with TestClient(make_app()):
        while not any(tick > started for tick in _ticks):
            assert time.monotonic() < started + 10, "the periodic job never ran"
            time.sleep(0.05)
