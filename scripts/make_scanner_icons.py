"""Draw the gate scanner's app icons (the web app manifest's PNGs) with Pillow.

Run ``python scripts/make_scanner_icons.py`` after changing the drawing and commit the
PNGs: the app serves them as static files (admitone/web/static/img/scanner-icon-*.png).
The mark is the site's diamond in a QR-like frame of three finder squares, light on the
site's night blue. The maskable icon keeps everything inside the central 80 % circle
that launchers may crop to.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "admitone" / "web" / "static" / "img"
NIGHT = (11, 16, 32, 255)  # --bg
ACCENT = (185, 168, 255, 255)  # --accent
MINT = (94, 234, 212, 255)  # --accent-2


def draw(size: int, *, content: float) -> Image.Image:
    """The icon at ``size`` pixels; the mark fills ``content`` of the side, centred."""
    scale = 4  # drawn large, then reduced: smooth edges without antialiasing support
    big = size * scale
    image = Image.new("RGBA", (big, big), NIGHT)
    pen = ImageDraw.Draw(image)
    side = big * content
    left = (big - side) / 2
    finder = side * 0.38
    ring = finder / 7
    for x, y in ((0, 0), (side - finder, 0), (0, side - finder)):
        x0, y0 = left + x, left + y
        pen.rectangle((x0, y0, x0 + finder, y0 + finder), fill=ACCENT)
        pen.rectangle((x0 + ring, y0 + ring, x0 + finder - ring, y0 + finder - ring), fill=NIGHT)
        pen.rectangle(
            (x0 + 2 * ring, y0 + 2 * ring, x0 + finder - 2 * ring, y0 + finder - 2 * ring),
            fill=ACCENT,
        )
    # The diamond in the fourth corner, where a QR code has its data.
    cx, cy, r = left + side - finder / 2, left + side - finder / 2, finder / 2
    pen.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=MINT)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, content in (
        ("scanner-icon-192.png", 192, 0.72),
        ("scanner-icon-512.png", 512, 0.72),
        ("scanner-icon-maskable-512.png", 512, 0.52),
    ):
        draw(size, content=content).save(OUT / name, optimize=True)
        print(OUT / name)


if __name__ == "__main__":
    main()
