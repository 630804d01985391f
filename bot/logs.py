"""Logging set-up: personal data (emails, phones, order and card numbers) never reaches a log line,
and libraries that log secrets (httpx logs the Telegram URL with the bot token) are quietened."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"\bbot\d+:[A-Za-z0-9_-]{10,}"), "bot<token>"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"), "<slack-token>"),
    (re.compile(r"\bVT[-\s]?\d{6}\b", re.IGNORECASE), "<order>"),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "<card>"),
    (re.compile(r"(?<!\w)\+?\d[\d ()./-]{7,}\d"), "<phone>"),
    (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}\b"), "<iban>"),
]


def redact(text: str) -> str:
    for rx, repl in _PATTERNS:
        text = rx.sub(repl, text)
    return text


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


def setup_logging(level: str = "INFO", redact_personal_data: bool = True) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_fancare", False):
            root.removeHandler(h)
    handler = logging.StreamHandler()
    handler._fancare = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if redact_personal_data:
        handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "urllib3", "sentence_transformers", "transformers", "alembic",
                  "telegram.ext.Updater", "slack_bolt", "slack_sdk", "torch"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
