"""The relay's link to upstream: pull the bundle, push the queue (docs/gates.md,
"Site relay").

A background thread (``Syncer.start``) pulls the bundle at start, then every
``push_every`` seconds pushes the queued scans (oldest first, at most 500 a batch, as
the relay's device), and every ``pull_every`` seconds pulls the bundle from the stored
cursor, after a push, so that the pull already holds the relay's own scans. Pushes are
frequent because the time a scan waits in the queue is the window in which another
relay of the event can admit the same ticket (a duplicate, reported as a conflict). Every upstream call has a short timeout and runs
in this thread only: a gate's scan never waits for upstream.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from admitone.checkin.offline import MAX_BATCH
from admitone.db import utcnow
from admitone.relay.store import RelayStore

log = structlog.get_logger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
MAX_PAGES_PER_PULL = 1000  # a safety stop, far above any event (5,000 rows a page)


class UpstreamError(Exception):
    """Upstream answered, but not with what the relay can use (a 4xx or 5xx)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"upstream answered {status}: {body[:300]}")
        self.status = status


@dataclass
class LinkState:
    reachable: bool | None = None  # None: not tried yet
    last_error: str | None = None
    last_try_at: str | None = None


class Syncer:
    """Pulls and pushes for one relay; ``http`` is a client whose base URL is upstream."""

    def __init__(self, store: RelayStore, http: httpx.Client, *, token: str) -> None:
        self.store = store
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"}
        self.link = LinkState()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._round = threading.Lock()

    # --- one round -----------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        self.link.last_try_at = utcnow().isoformat()
        try:
            response = self.http.request(method, path, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            self.link.reachable = False
            self.link.last_error = f"{type(exc).__name__}: {exc}"
            raise
        self.link.reachable = True
        if response.status_code != 200:
            self.link.last_error = f"{method} {path}: HTTP {response.status_code}"
            raise UpstreamError(response.status_code, response.text)
        self.link.last_error = None
        return dict(response.json()["data"])

    def pull(self) -> int:
        """Every page from the stored cursor until ``complete``; each page applied with
        its cursor in one local transaction. The number of pages."""
        cursor = self.store.cursor()
        for pages in range(1, MAX_PAGES_PER_PULL + 1):
            page = self._call(
                "GET", "/api/v1/scan/bundle", params={"cursor": cursor} if cursor else None
            )
            self.store.apply_page(page)
            cursor = page["cursor"]
            if page["complete"]:
                return pages
        return MAX_PAGES_PER_PULL

    def push(self) -> int:
        """Upload the queue in batches until it is empty (or a batch fails); the number
        of scans upstream acknowledged. A batch whose answer is lost is sent again next
        time and answered ``already_stored``: upstream keeps each (device, nonce) once."""
        sent = 0
        while True:
            queued = self.store.queued(limit=MAX_BATCH)
            if not queued:
                break
            body = {
                "device_time": utcnow().isoformat(),
                "scans": [
                    {
                        "nonce": scan.upload_nonce,
                        "qr": scan.qr,
                        "list_id": str(scan.list_id),
                        "kind": scan.kind,
                        "scanned_at": scan.scanned_at.isoformat(),
                        "result": scan.result,
                        **({"gate": scan.gate} if scan.gate else {}),
                    }
                    for scan in queued
                ],
            }
            answer = self._call("POST", "/api/v1/scan/batches", json=body)
            report = self.store.acknowledge(answer["results"])
            self.store.note(
                last_push_at=utcnow().isoformat(),
                conflicts=answer.get("conflicts", []),
                clock_offset_ms=answer.get("clock_offset_ms"),
            )
            sent += report.stored
            if report.stored + report.refused == 0:
                break  # nothing moved: do not loop on the same batch
        return sent

    def sync_once(self, *, pull: bool = True) -> bool:
        """Push, then pull (when ``pull``). False when upstream could not be reached or
        refused; the next round tries again from where this one stopped."""
        with self._round:
            try:
                if self.store.snapshot is not None:
                    self.push()
                if pull or self.store.snapshot is None:
                    self.pull()
            except (httpx.HTTPError, UpstreamError) as exc:
                log.warning("relay_sync_failed", error=str(exc)[:300])
                return False
            return True

    # --- the background thread -----------------------------------------------------

    def start(self, *, push_every: float, pull_every: float) -> None:
        def run() -> None:
            last_pull: float | None = None
            while not self._stop.is_set():
                due = last_pull is None or time.monotonic() - last_pull >= pull_every
                if self.sync_once(pull=due) and due:
                    last_pull = time.monotonic()
                self._wake.wait(push_every)
                self._wake.clear()

        self._thread = threading.Thread(target=run, name="relay-sync", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Sync now rather than at the next tick (a scan was queued)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
