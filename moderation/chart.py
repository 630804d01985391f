"""A small PNG chart of the last hours for crisis alerts, drawn without a plotting library.

Bars per `bucket` minutes: all messages in grey, negative ones in red on top of them, with the
scale (the tallest bar's count) written in the corner. Pure Python (zlib + struct): matplotlib would
add ~40 MB and a font cache to every fancare install for one picture a week.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

GREY = (176, 183, 192)
RED = (214, 48, 49)
AXIS = (90, 90, 90)
WHITE = (255, 255, 255)
TEXT = (40, 40, 40)
# 3x5 digits, rows top to bottom, bits left to right
_DIGITS = {"0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
           "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
           "8": "111101111101111", "9": "111101111001111", "/": "001001010100100", "m": "000111111101101",
           "i": "010000010010010", "n": "000110101101101", "h": "100100111101101", " ": "000000000000000"}


def png(width: int, height: int, pixels: bytearray) -> bytes:
    """Encode an RGB buffer (row-major, 3 bytes a pixel) as PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    stride = width * 3
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def buckets(history: Sequence[tuple[int, int, int]], bucket: int = 10, hours: float = 6.0) -> list[tuple[int, int]]:
    """(all, negative) per `bucket` minutes over the last `hours`, oldest first, from per-minute rows."""
    if not history:
        return []
    end = max(m for m, _, _ in history) + 1
    n = max(1, int(hours * 60 // bucket))
    start = end - n * bucket
    out = [[0, 0] for _ in range(n)]
    for minute, total, neg in history:
        if minute >= start:
            i = (minute - start) // bucket
            out[i][0] += total
            out[i][1] += neg
    return [(a, b) for a, b in out]


def chart_png(history: Sequence[tuple[int, int, int]], *, bucket: int = 10, hours: float = 6.0,
              width: int = 480, height: int = 160) -> bytes:
    bars = buckets(history, bucket, hours)
    px = bytearray(WHITE * (width * height))

    def fill(x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        for y in range(max(0, y0), min(height, y1)):
            row = y * width * 3
            for x in range(max(0, x0), min(width, x1)):
                px[row + x * 3: row + x * 3 + 3] = bytes(color)

    def text(x: int, y: int, s: str, scale: int = 2) -> None:
        for ch in s:
            bits = _DIGITS.get(ch, _DIGITS[" "])
            for r in range(5):
                for c in range(3):
                    if bits[r * 3 + c] == "1":
                        fill(x + c * scale, y + r * scale, x + (c + 1) * scale, y + (r + 1) * scale, TEXT)
            x += 4 * scale

    left, right, top, bottom = 8, width - 8, 22, height - 12
    fill(left, bottom, right, bottom + 1, AXIS)
    if bars:
        top_value = max(max(a for a, _ in bars), 1)
        slot = (right - left) / len(bars)
        for i, (total, neg) in enumerate(bars):
            x0, x1 = int(left + i * slot) + 1, int(left + (i + 1) * slot) - 1
            h_all = int((bottom - top) * total / top_value)
            h_neg = int((bottom - top) * min(neg, total) / top_value)
            fill(x0, bottom - h_all, x1, bottom, GREY)
            fill(x0, bottom - h_neg, x1, bottom, RED)
        text(left, 4, f"{top_value} / {bucket}min")
    return png(width, height, px)
