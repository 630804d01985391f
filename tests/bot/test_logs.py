from __future__ import annotations

import logging

from bot.logs import RedactingFilter, redact, setup_logging


def test_personal_data_and_tokens_are_redacted():
    line = ("fan jo.doe+x@mail.example phoned +44 7700 900123 about VT-482913, card 4111 1111 1111 1111, "
            "GET https://api.telegram.org/bot123456:ABCdefGHIjklMNOpqr/getUpdates, xoxb-1234-abcd")
    out = redact(line)
    for secret in ("jo.doe", "7700 900123", "482913", "4111 1111", "ABCdefGHI", "xoxb-1234"):
        assert secret not in out, secret


def test_log_records_pass_through_the_filter(capsys):
    setup_logging("INFO")
    logging.getLogger("fancare.test").info("message from %s", "me@x.example")
    err = capsys.readouterr().err
    assert "<email>" in err and "me@x.example" not in err
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    f = RedactingFilter()
    rec = logging.LogRecord("x", logging.INFO, __file__, 1, "order %s", ("VT-123456",), None)
    f.filter(rec)
    assert rec.getMessage() == "order <order>"
