"""Logging set-up: personal data (emails, phones, order and card numbers) never reaches a log line,
and libraries that log secrets (httpx logs the Telegram URL with the bot token) are quietened."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

#: secrets and identifiers, masked first (a Telegram bot token anywhere, not only inside a Bot API URL)
_SECRETS = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\bbot\d+:[A-Za-z0-9_-]{10,}"), "bot<token>"),
    (re.compile(r"(?<![\w])\d{8,10}:[A-Za-z0-9_-]{35,}"), "<token>"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), "<slack-token>"),
]
ORDER_PATTERN = re.compile(r"\bVT[-\s\u2010-\u2015\u2212]?\d{6}\b", re.IGNORECASE)
#: numbers that are neither phones nor cards and are kept as they are: IP addresses (with a port),
#: dates and times, version numbers, host:port
_KEEP = re.compile(
    r"(?<![\w.])(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?"  # 127.0.0.1:5055
    r"|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"  # 2026-11-20 10:30:00
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"  # 20/11/2026
    r"|\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"  # 10:30:00
    r"|v?\d+(?:\.\d+){2,}"  # 1.2.3
    r"|:\d{2,5})(?![\w.])")
_NUMBERS = [
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "<card>"),
    (re.compile(r"(?<!\w)\+?\d[\d ()./-]{7,}\d"), "<phone>"),
    (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b"), "<iban>"),
]
_order = ORDER_PATTERN


def set_order_pattern(pattern: str | None) -> None:
    """The brand's order-number format (config `orders.number_pattern`), masked as <order>."""
    global _order
    _order = re.compile(pattern, re.IGNORECASE) if pattern else ORDER_PATTERN


def _letters(i: int) -> str:
    out = ""
    while True:
        out = chr(ord("a") + i % 26) + out
        i //= 26
        if not i:
            return out


def redact(text: str) -> str:
    for rx, repl in _SECRETS:
        text = rx.sub(repl, text)
    text = _order.sub("<order>", text)
    kept: list[str] = []

    def keep(m: re.Match[str]) -> str:
        kept.append(m.group())
        return f"\x00{_letters(len(kept) - 1)}\x00"

    text = _KEEP.sub(keep, text)
    for rx, repl in _NUMBERS:
        text = rx.sub(repl, text)
    if kept:
        text = re.sub(r"\x00([a-z]+)\x00", lambda m: kept[_index(m.group(1))], text)
    return text


def _index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - ord("a")
    return n


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not kill logging
            msg = str(record.msg)
        record.msg = redact(msg)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (`logging.format: json`) for log collectors: time (UTC, ISO 8601),
    level, logger, message and, for errors, the traceback. The redacting filter runs before the
    formatter, so the message and the traceback are already masked when they are serialised."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[1] is not None:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "INFO", redact_personal_data: bool = True, order_pattern: str | None = None,
                  fmt: str = "text") -> None:
    """Install fancare's one stderr handler (replacing an earlier one): `fmt` "text" or "json"."""
    if fmt not in ("text", "json"):
        raise ValueError(f"logging format must be text or json, not {fmt!r}")
    set_order_pattern(order_pattern)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_fancare", False):
            root.removeHandler(h)
    handler = logging.StreamHandler()
    handler._fancare = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json"
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if redact_personal_data:
        handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "urllib3", "sentence_transformers", "transformers", "alembic",
                  "telegram.ext.Updater", "slack_bolt", "slack_sdk", "torch"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
