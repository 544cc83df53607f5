"""The front's static files: cached for a year by version, compressed on the wire.

``static_url`` names each file with its content hash (``/static/css/app.css?v=<hash>``).
Asked for by its current version, a file is cached for a year and never revalidated
(``immutable``): a new release changes the hash, so the page asks for a new address.
Asked for without a version or by an old one (a page cached before a release), it is
served with ``no-cache``, to be revalidated by its ETag: a stale file is never kept.

Text files (CSS, JavaScript, SVG) travel gzip-compressed to clients that accept it. Only
static files, which hold no secret: compressing pages that carry a token next to text a
visitor controls would open them to BREACH-style guessing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from admitone.web.templating import STATIC_DIR, static_version

ONE_YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"
REVALIDATE = "no-cache"
# gzip's middle level: nearly the smallest files for a fraction of level 9's CPU.
COMPRESS_LEVEL = 6


class VersionedStaticFiles(StaticFiles):
    def __init__(self, *, only: Collection[str] | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.only = None if only is None else frozenset(only)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if self.only is not None and path not in self.only:
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("v", [])
            current = asked == [static_version(path)]
            response.headers["cache-control"] = IMMUTABLE if current else REVALIDATE
        return response


def combined_version(paths: Iterable[str]) -> str:
    """One version for a set of static files, changing whenever any file's content hash
    (``static_version``) changes: the gate scanner's service worker is named by it
    (``web/pages/scanner_shell.py``), so a deploy that changes a shell file replaces the
    shell cached on the gates' devices."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(f"{path}={static_version(path)}\n".encode())
    return digest.hexdigest()[:12]


def static_files_app(*, only: Collection[str] | None = None) -> ASGIApp:
    """The ASGI app mounted at ``/static``; ``only``: the files it serves, when not all
    of them (a site relay serves the scanner's shell, nothing else)."""
    return GZipMiddleware(
        VersionedStaticFiles(directory=STATIC_DIR, only=only),
        minimum_size=500,
        compresslevel=COMPRESS_LEVEL,
    )
