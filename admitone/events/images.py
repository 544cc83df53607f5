"""Event images: checked with Pillow, stored under ``media_dir/events/``.

Files are not part of the database transaction, so they are tied to it: a new file is
removed again if the unit of work rolls back, and a replaced one only once it commits.
"""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import event
from sqlalchemy.orm import Session

from admitone.errors import PayloadTooLarge, UnsupportedMediaType

# Pillow format -> file extension. Formats browsers show and that carry no script.
ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
# An image this large in pixels is a decompression bomb, whatever its file size.
MAX_PIXELS = 40_000_000
MEDIA_SUBDIR = "events"


def check_image(data: bytes, *, max_bytes: int) -> str:
    """The file extension for ``data`` if it is an accepted image; raises otherwise."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(max_bytes=max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as image:
                image_format = image.format
                width, height = image.size
                image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedMediaType(accepted=sorted(ACCEPTED_FORMATS)) from None
    except Exception:  # Pillow raises many kinds of error for a damaged file
        raise UnsupportedMediaType(
            "The file is damaged or not an image.", accepted=sorted(ACCEPTED_FORMATS)
        ) from None
    if image_format not in ACCEPTED_FORMATS or width * height > MAX_PIXELS:
        raise UnsupportedMediaType(accepted=sorted(ACCEPTED_FORMATS))
    return ACCEPTED_FORMATS[image_format]


def store_image(session: Session, *, data: bytes, extension: str, media_dir: Path) -> str:
    """Write the file and return its path relative to ``media_dir``."""
    relative = f"{MEDIA_SUBDIR}/{secrets.token_hex(16)}.{extension}"
    target = media_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    _when_transaction_ends(session, on_rollback=lambda: _unlink(target))
    return relative


def delete_image_after_commit(session: Session, *, relative: str, media_dir: Path) -> None:
    target = media_dir / relative
    # Only files we wrote: a tampered path must not reach outside the media folder.
    if target.resolve().parent != (media_dir / MEDIA_SUBDIR).resolve():
        return
    _when_transaction_ends(session, on_commit=lambda: _unlink(target))


def _when_transaction_ends(
    session: Session,
    *,
    on_commit: Callable[[], None] | None = None,
    on_rollback: Callable[[], None] | None = None,
) -> None:
    """Run one action when the session's transaction commits or the other if it rolls back."""

    done = False

    def ended(outcome: Callable[[], None] | None) -> Callable[[Session], None]:
        def listener(_session: Session) -> None:
            # Listeners stay registered on the session; only the first ending counts.
            nonlocal done
            if done:
                return
            done = True
            if outcome is not None:
                outcome()

        return listener

    event.listen(session, "after_commit", ended(on_commit))
    event.listen(session, "after_rollback", ended(on_rollback))


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
