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


def test_ip_addresses_dates_ports_and_versions_are_not_phones():
    for line in ("refused Slack request from 10.0.3.17 at 2026-11-20 10:30:00",
                 "listening on 127.0.0.1:5055", "firmware 1.2.3 released 20/11/2026",
                 "retry at 2026-11-20T10:30:00Z from 192.168.100.200:443"):
        assert redact(line) == line, line
    assert redact("call 06-12345678 or +31 6 12345678") == "call <phone> or <phone>"


def test_the_bot_token_is_redacted_wherever_it_appears():
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
    for line in (f"token={token}", f"Bot({token!r}) failed", f"https://api.telegram.org/bot{token}/getMe",
                 f"{token} at 2026-11-20"):
        out = redact(line)
        assert "AAHdqTcv" not in out and "123456789" not in out, out


def test_the_configured_order_format_is_masked():
    from bot.logs import set_order_pattern

    try:
        set_order_pattern(r"\bAB-\d{9}\b")
        assert redact("order AB-123456789 shipped") == "order <order> shipped"
    finally:
        set_order_pattern(None)
    assert redact("order VT-123456") == "order <order>"
