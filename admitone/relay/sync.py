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

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from admitone.checkin.offline import MAX_BATCH
from admitone.db import utcnow
from admitone.relay.store import QueuedScan, RelayStore

log = structlog.get_logger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=3.0)
MAX_PAGES_PER_PULL = 1000  # a safety stop, far above any event (5,000 rows a page)


class UpstreamError(Exception):
    """Upstream answered, but not with what the relay can use (a 4xx or 5xx)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"upstream answered {status}: {body[:300]}")
        self.status = status
        self.body = body

    @property
    def error(self) -> dict[str, Any]:
        """Upstream's ``{"code", "message"}``, or a stand-in when its body is not one."""
        try:
            found = json.loads(self.body)["error"]
            return {"code": str(found["code"]), "message": str(found["message"])}
        except (ValueError, KeyError, TypeError):
            return {"code": f"HTTP_{self.status}", "message": self.body[:200]}


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
        """Upload the queue in batches until it is empty (or upstream cannot be
        reached); the number of scans upstream acknowledged. A batch whose answer is lost
        is sent again next time and answered ``already_stored``: upstream keeps each
        (device, nonce) once."""
        sent = 0
        while True:
            queued = self.store.queued(limit=MAX_BATCH)
            if not queued:
                return sent
            stored, refused = self._send(queued)
            sent += stored
            if stored + refused == 0:
                return sent  # nothing moved: do not loop on the same batch

    def _send(self, scans: list[QueuedScan]) -> tuple[int, int]:
        """One batch; (acknowledged, refused). A batch upstream refuses as a whole (a
        4xx other than 401: one scan it cannot take) is split in halves until that scan
        is alone, which is then kept as refused with upstream's error, so one bad scan
        never holds the queue."""
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
                for scan in scans
            ],
        }
        try:
            answer = self._call("POST", "/api/v1/scan/batches", json=body)
        except UpstreamError as exc:
            if not 400 <= exc.status < 500 or exc.status in (401, 429):
                raise
            if len(scans) > 1:
                half = len(scans) // 2
                first = self._send(scans[:half])
                second = self._send(scans[half:])
                return first[0] + second[0], first[1] + second[1]
            log.warning("relay_scan_refused_by_upstream", status=exc.status, error=exc.body[:300])
            self.store.acknowledge(
                [{"nonce": scans[0].upload_nonce, "status": "refused", "error": exc.error}]
            )
            return 0, 1
        report = self.store.acknowledge(answer["results"])
        self.store.note(
            last_push_at=utcnow().isoformat(),
            conflicts=answer.get("conflicts", []),
            clock_offset_ms=answer.get("clock_offset_ms"),
        )
        return report.stored, report.refused

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
