"""A real ticket's QR code through a fake camera: Chromium reads a y4m video (made here
with Pillow from the QR that segno draws for the ticket), the scanner decodes it with the
vendored jsQR in its worker (Linux Chromium has no BarcodeDetector), and the server
admits the ticket once.

The fake video is fixed for the browser's whole life, so this test launches a browser of
its own for its one QR code (docs/offline-scanner.md), and it keeps the page's CSP: the
decoder's worker must load under it.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import segno
from PIL import Image
from playwright.sync_api import Playwright, expect

from tests.helpers import add_member, create_org, register
from tests.web.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, LiveServer, screenshot
from tests.web.e2e.test_flows import _log_in, _paid_ticket_payload
from tests.web.helpers import create_event

WIDTH, HEIGHT = 640, 480


def write_y4m(image: Image.Image, path: Path, *, frames: int = 5, fps: int = 5) -> None:
    """A still ``image`` as a short YUV 4:2:0 video Chromium's fake camera loops over.

    y4m rather than mjpeg (mjpeg fake capture broke in Chrome 115); Pillow only, no ffmpeg.
    """
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    side = min(WIDTH, HEIGHT) - 40
    frame.paste(image.resize((side, side), Image.Resampling.NEAREST), ((WIDTH - side) // 2, 20))
    luma, blue, red = frame.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    planes = (
        luma.tobytes()
        + blue.resize(half, Image.Resampling.BILINEAR).tobytes()
        + red.resize(half, Image.Resampling.BILINEAR).tobytes()
    )
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            video.write(b"FRAME\n" + planes)


def qr_image(text: str) -> Image.Image:
    """The ticket's QR code as the project draws it (segno), as a Pillow image."""
    png = io.BytesIO()
    segno.make(text, error="m").save(png, kind="png", scale=8, border=4)
    png.seek(0)
    return Image.open(png).convert("RGB")


def test_a_ticket_qr_seen_by_the_camera_is_admitted(
    api: httpx.Client,
    live_server: LiveServer,
    playwright_instance: Playwright,
    tmp_path: Path,
) -> None:
    owner = register(api)
    org = create_org(api, owner["headers"])["slug"]
    staff = register(api, full_name="Cam Staff")
    add_member(api, owner["headers"], org, staff["email"], "staff")
    event = create_event(api, owner["headers"], org, title="Lens Night")
    payload = _paid_ticket_payload(api, event)
    video = tmp_path / "ticket-qr.y4m"
    write_y4m(qr_image(payload), video)

    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video.resolve()}",
        ],
    )
    try:
        context = browser.new_context(
            base_url=live_server.url, viewport=DESKTOP, locale="en-GB", permissions=["camera"]
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _log_in(page, staff["email"])
        page.get_by_role("link", name="Lens Night").click()
        root = page.locator("#scanner")
        # Hold the result on screen: the camera still sees the ticket afterwards.
        root.evaluate("node => node.setAttribute('data-return-seconds', '120')")
        assert page.evaluate("'BarcodeDetector' in window") is False
        page.get_by_role("button", name="Start the camera").click()
        expect(page.locator("#scanner-video")).to_be_visible()
        expect(root).to_have_attribute("data-decoder", "jsqr-worker")
        result = page.locator("#scan-result")
        expect(result).to_have_attribute("data-kind", "admitted", timeout=20_000)
        expect(page.locator("#scan-result-detail")).to_contain_text("Gate Tester")
        screenshot(page, "scanner-camera-admitted", full_page=False)
        assert not [e for e in errors if "Content Security Policy" in e], errors
        context.close()
    finally:
        browser.close()

    # The server says so: one admission, and the same code again is already admitted.
    stats = api.get(
        f"/api/v1/events/{event['id']}/checkins/stats", headers=owner["headers"]
    ).json()["data"]
    assert stats["admitted"] == 1
    again = api.post(
        f"/api/v1/events/{event['id']}/checkins",
        json={"qr": payload},
        headers=owner["headers"],
    ).json()["data"]
    assert again["result"] == "already_admitted"
