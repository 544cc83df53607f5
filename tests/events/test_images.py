"""Event images: upload, replace, delete; size and real type checked."""

from __future__ import annotations

import os
import uuid
from io import BytesIO

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from admitone.authorization import Permission, resolve_access
from admitone.errors import DomainError
from admitone.events import service
from tests.helpers import (
    create_event,
    create_org,
    db_snapshot,
    events_url,
    png_bytes,
    register,
)


@pytest.fixture
def small_client(make_app):
    # A 4 KiB limit keeps the oversized uploads small.
    with TestClient(make_app(max_image_bytes=4096), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def setup(small_client):
    owner = register(small_client)
    org = create_org(small_client, owner["headers"])["slug"]
    event = create_event(small_client, owner["headers"], org)
    return {
        "client": small_client,
        "headers": owner["headers"],
        "url": events_url(org, event["id"], "image"),
        "event": event,
        "org": org,
    }


def _files(media_dir):
    folder = media_dir / "events"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _upload(setup, data: bytes, name="image.png", content_type="image/png"):
    return setup["client"].put(
        setup["url"], files={"file": (name, data, content_type)}, headers=setup["headers"]
    )


@pytest.mark.parametrize(
    ("image_format", "extension"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")]
)
def test_upload_accepted_formats_and_serve(setup, media_dir, image_format, extension):
    data = png_bytes(image_format=image_format)
    response = _upload(setup, data, name="whatever.bin", content_type="application/octet-stream")
    assert response.status_code == 200, response.text
    url = response.json()["data"]["image_url"]
    assert url.startswith("/media/events/") and url.endswith(f".{extension}")
    assert _files(media_dir) == [url.rsplit("/", 1)[1]]
    served = setup["client"].get(url)
    assert served.status_code == 200
    assert served.content == data


def test_replacing_deletes_the_old_file(setup, media_dir):
    first = _upload(setup, png_bytes()).json()["data"]["image_url"]
    second = _upload(setup, png_bytes(image_format="JPEG")).json()["data"]["image_url"]
    assert first != second
    assert _files(media_dir) == [second.rsplit("/", 1)[1]]


def test_delete_image(setup, media_dir):
    _upload(setup, png_bytes())
    response = setup["client"].delete(setup["url"], headers=setup["headers"])
    assert response.status_code == 200
    assert response.json()["data"]["image_url"] is None
    assert _files(media_dir) == []
    # Deleting when there is none is fine too.
    assert setup["client"].delete(setup["url"], headers=setup["headers"]).status_code == 200


def test_deleting_the_event_deletes_its_image(setup, media_dir):
    _upload(setup, png_bytes())
    event_url = events_url(setup["org"], setup["event"]["id"])
    assert setup["client"].delete(event_url, headers=setup["headers"]).status_code == 204
    assert _files(media_dir) == []


def _refused(setup, response, status, code, media_dir, before):
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert _files(media_dir) == []
    assert db_snapshot(setup["database"]) == before


@pytest.fixture
def guarded(setup, clean_database):
    setup["database"] = clean_database
    return setup


def test_too_big_is_413(guarded, media_dir, clean_database):
    before = db_snapshot(clean_database)
    noisy = BytesIO()
    # Random pixels do not compress: a real PNG well over the 4 KiB limit.
    Image.frombytes("RGB", (100, 100), os.urandom(30_000)).save(noisy, "PNG")
    assert len(noisy.getvalue()) > 4096
    for data in (noisy.getvalue(), b"\x89PNG" + b"0" * 5000):
        _refused(guarded, _upload(guarded, data), 413, "PAYLOAD_TOO_LARGE", media_dir, before)


def test_huge_declared_body_is_refused_before_reading(guarded, media_dir, clean_database):
    before = db_snapshot(clean_database)
    response = guarded["client"].put(
        guarded["url"],
        content=b"--x--\r\n",
        headers={
            **guarded["headers"],
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(10**12),
        },
    )
    _refused(guarded, response, 413, "PAYLOAD_TOO_LARGE", media_dir, before)


def test_streamed_body_without_length_is_cut_off(guarded, media_dir, clean_database):
    before = db_snapshot(clean_database)

    def body():
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        yield b"Content-Type: image/png\r\n\r\n"
        for _ in range(1000):  # 1 MB, sent chunked: no Content-Length to refuse early
            yield b"0" * 1024
        yield b"\r\n--x--\r\n"

    response = guarded["client"].put(
        guarded["url"],
        content=body(),
        headers={**guarded["headers"], "content-type": "multipart/form-data; boundary=x"},
    )
    _refused(guarded, response, 413, "PAYLOAD_TOO_LARGE", media_dir, before)


def _bomb() -> bytes:
    buffer = BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, "PNG")  # 400 Mpx, a few KiB
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (png_bytes(image_format="GIF"), "anim.gif"),
        (png_bytes(image_format="BMP"), "image.bmp"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image.svg"),
        (b"just text, not an image", "image.png"),
        (png_bytes()[:40], "truncated.png"),
        (b"", "empty.png"),
    ],
    ids=["gif", "bmp", "svg", "text", "truncated", "empty"],
)
def test_wrong_type_is_415(guarded, media_dir, clean_database, data, name):
    before = db_snapshot(clean_database)
    response = _upload(guarded, data, name=name)
    _refused(guarded, response, 415, "UNSUPPORTED_MEDIA_TYPE", media_dir, before)


def test_decompression_bomb_is_415(make_app, clean_database, media_dir):
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        owner = register(client)
        org = create_org(client, owner["headers"])["slug"]
        event = create_event(client, owner["headers"], org)
        before = db_snapshot(clean_database)
        response = client.put(
            events_url(org, event["id"], "image"),
            files={"file": ("bomb.png", _bomb(), "image/png")},
            headers=owner["headers"],
        )
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
        assert db_snapshot(clean_database) == before
        assert _files(media_dir) == []


def test_not_multipart_is_415(guarded, media_dir, clean_database):
    before = db_snapshot(clean_database)
    response = guarded["client"].put(
        guarded["url"],
        content=png_bytes(),
        headers={**guarded["headers"], "content-type": "image/png"},
    )
    _refused(guarded, response, 415, "UNSUPPORTED_MEDIA_TYPE", media_dir, before)


def test_missing_file_field_is_422(guarded, media_dir, clean_database):
    before = db_snapshot(clean_database)
    response = guarded["client"].put(
        guarded["url"],
        data={"image": "not a file"},
        files={"other": ("a.png", png_bytes(), "image/png")},
        headers=guarded["headers"],
    )
    _refused(guarded, response, 422, "VALIDATION_ERROR", media_dir, before)


def test_malformed_multipart_is_400(guarded, media_dir, clean_database):
    before = db_snapshot(clean_database)
    response = guarded["client"].put(
        guarded["url"],
        content=b"this is not multipart at all",
        headers={**guarded["headers"], "content-type": "multipart/form-data; boundary=zz"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.status_code != 500
    assert _files(media_dir) == []
    assert db_snapshot(clean_database) == before


def test_unknown_event_is_404_and_writes_no_file(guarded, media_dir):
    url = events_url(guarded["org"], uuid.uuid4(), "image")
    response = guarded["client"].put(
        url, files={"file": ("a.png", png_bytes(), "image/png")}, headers=guarded["headers"]
    )
    assert response.status_code == 404
    assert _files(media_dir) == []


def test_file_of_a_rolled_back_upload_is_removed(guarded, media_dir, clean_database):
    """The file follows the transaction: a unit of work that fails leaves no file behind."""
    from admitone.accounts.models import User

    class Boom(DomainError):
        pass

    with pytest.raises(Boom), clean_database.session() as session:
        user = session.query(User).one()
        access = resolve_access(
            session, slug=guarded["org"], user=user, permission=Permission.manage_events
        )
        service.set_event_image(
            session,
            access=access,
            event_id=uuid.UUID(guarded["event"]["id"]),
            data=png_bytes(),
            media_dir=media_dir,
            max_bytes=4096,
        )
        assert len(_files(media_dir)) == 1
        raise Boom()
    assert _files(media_dir) == []
    response = guarded["client"].get(
        events_url(guarded["org"], guarded["event"]["id"]), headers=guarded["headers"]
    )
    assert response.json()["data"]["image_url"] is None
