"""Splitting at Telegram's 4096 UTF-16 units without breaking a glyph (pure, no server)."""

from __future__ import annotations

import pytest

from bot.channels.telegram_text import split_message, utf16_len


def _check(text: str, limit: int) -> list[str]:
    parts = split_message(text, limit)
    assert "".join(parts) == text
    assert all(utf16_len(p) <= limit for p in parts)
    return parts


def test_short_text_is_one_part():
    assert split_message("hello") == ["hello"]


def test_surrogate_pair_is_never_cut():
    parts = _check("a" * 4095 + "😀" + "b", 4096)  # the emoji would need units 4096-4097
    assert parts[0] == "a" * 4095 and parts[1].startswith("😀")


@pytest.mark.parametrize("cluster", ["👍🏽", "👨‍👩‍👧", "🇩🇪", "❤️", "e\u0301"])
def test_clusters_stay_whole(cluster):
    for pad in range(1, 8):
        parts = _check("x" * (20 - pad) + cluster * 3, 20)
        for p in parts[1:]:
            assert p.startswith(cluster), (pad, parts)


def test_prefers_newline_then_space():
    text = ("word " * 30).strip() + "\n" + "z" * 50
    parts = _check(text, 100)
    assert parts[0].endswith("\n") or parts[0].endswith(" ")


def test_exact_limit_counts_utf16_units():
    assert len(split_message("😀" * 2048)) == 1  # 4096 units
    assert len(split_message("😀" * 2049)) == 2
