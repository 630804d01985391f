"""The ops endpoint (bot/ops): /healthz, /readyz, /metrics on a real App and a real aiohttp server,
and JSON logs with the same redaction as text logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp
import pytest

from bot.logs import setup_logging
from bot.ops.metrics import OpsMetrics
from bot.ops.server import OpsServer, Readiness
from tests.fakes.recording_channel import RecordingChannel, fan_message

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"


def test_json_logs_are_one_object_per_line_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", fmt="json")
    try:
        lg = logging.getLogger("fancare.test.json")
        lg.info("fan %s asked about VT-482913 via https://api.telegram.org/bot%s/getMe", "jo@mail.example", TOKEN)
        try:
            raise RuntimeError(f"call +44 7700 900123 failed with token {TOKEN}")
        except RuntimeError:
            lg.exception("send failed")
        lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    finally:  # leave no handler on this test's captured stream (closed after it)
        root = logging.getLogger()
        for h in [h for h in root.handlers if getattr(h, "_fancare", False)]:
            root.removeHandler(h)
    records = [json.loads(ln) for ln in lines]
    assert [r["logger"] for r in records] == ["fancare.test.json"] * 2
    first, second = records
    assert set(first) >= {"time", "level", "logger", "message"} and first["level"] == "INFO"
    assert first["time"].endswith("+00:00")
    assert "<email>" in first["message"] and "<order>" in first["message"]
    assert second["level"] == "ERROR" and "RuntimeError" in second["exc"]
    text = "\n".join(lines)
    for secret in ("jo@mail.example", "482913", "7700 900123", TOKEN, TOKEN.split(":")[1]):
        assert secret not in text, secret


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text or json"):
        setup_logging("INFO", fmt="xml")


def _family(text: str, name: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(name)]


async def _get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as r:
        return r.status, r.headers.get("Content-Type", ""), await r.text()


async def test_health_readiness_and_metrics_on_a_real_app(app: Any) -> None:
    channel = RecordingChannel()
    app.pipeline.add_channel(channel)
    connected = {"test": False}
    readiness = Readiness(model_version=lambda: app.model.version, database=app.database,
                          channels={"test": lambda: connected["test"]})
    server = OpsServer(readiness, app.metrics, "127.0.0.1", 0)
    await server.start()
    try:
        status, _, body = await _get(server.port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "alive"

        status, ctype, body = await _get(server.port, "/readyz")
        assert status == 503 and ctype.startswith("application/json")
        data = json.loads(body)
        assert data["failed"] == ["channel:test"] and data["checks"]["database"]["ok"] is True
        assert data["checks"]["model"]["version"] == app.model.version
        connected["test"] = True
        status, _, body = await _get(server.port, "/readyz")
        assert status == 200 and json.loads(body)["status"] == "ready"

        for i, text in enumerate(["how long does shipping to Germany take?", "hello!"]):
            await app.pipeline.handle(fan_message(text, user=f"fan{i}"))
        assert len(channel.sent) >= 2
        status, ctype, body = await _get(server.port, "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        msgs = _family(body, "fancare_messages_total{")
        assert sum(float(ln.rsplit(" ", 1)[1]) for ln in msgs) == 2.0
        assert all('channel="test"' in ln and "intent=" in ln and "action=" in ln for ln in msgs)
        assert 'fancare_message_latency_seconds_count{stage="stored"} 2.0' in body
        assert 'fancare_message_latency_seconds_count{stage="sent"} 2.0' in body
        assert "fancare_outbound_queue_depth 0.0" in body and "fancare_inbound_queue_depth 0.0" in body
        assert "fancare_outbound_oldest_pending_age_seconds 0.0" in body
        assert f'fancare_model_info{{version="{app.model.version}"}} 1.0' in body
        samples = [ln for ln in body.splitlines() if not ln.startswith("#")]
        assert "fancare_send_retries_total 0.0" in samples, samples
        assert "fancare_possible_duplicate_sends_total 0.0" in samples, samples
        assert "fancare_database_up 1.0" in samples, samples
    finally:
        await server.stop()


async def test_queue_depth_escalations_and_retries_are_read_at_scrape_time(app: Any) -> None:
    from bot.channels.base import RetryableSendError

    channel = RecordingChannel()
    channel.fail_next.append(RetryableSendError("telegram: 502"))
    app.pipeline.add_channel(channel)
    await app.pipeline.handle(fan_message("my Pulse 3 started smoking and burned my wrist!!", user="hurt"))
    body = app.metrics.render().decode()
    assert "fancare_send_retries_total 1.0" in body
    depth = float(_family(body, "fancare_outbound_queue_depth ")[0].split()[1])
    assert depth >= 1  # the failed reply (and any after it) waits for its retry
    age = float(_family(body, "fancare_outbound_oldest_pending_age_seconds ")[0].split()[1])
    assert 0.0 <= age < 60
    assert 'fancare_open_escalations{queue="crisis"} 1.0' in body.splitlines(), body


def test_each_app_has_its_own_registry(app: Any) -> None:
    """Two metric sets in one process (several Apps in tests) never clash in a global registry."""
    other = OpsMetrics(app.store, lambda: {"sent": 7}, lambda: "v-other")
    other.processed("test", 1, 0.0, {"intent": "faq", "action": "faq"}, 1)
    mine = app.metrics.render().decode()
    theirs = other.render().decode()
    assert 'fancare_model_info{version="v-other"}' in theirs and "v-other" not in mine
    assert "fancare_sent_messages_total 7.0" in theirs
    assert "fancare_messages_total{" in theirs and "fancare_messages_total{" not in mine


async def test_only_a_send_whose_lease_expired_in_flight_counts_as_a_possible_duplicate(app: Any) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from bot.store import Conversation, Message
    from bot.store.models import utcnow

    channel = RecordingChannel()
    app.pipeline.add_channel(channel)
    rec = app.store.record_inbound(channel="test", external_id="x1", chat_id="chat-x", user_id="x", text="hi")
    with app.store.session() as s:
        conv = s.get(Conversation, rec.conversation_id)
        fresh = app.store.add_outbound(s, conv, "a reply never tried")
        s.flush()
        fresh_id = fresh.id
    await app.pipeline.dispatch()
    assert channel.texts() == ["a reply never tried"] and app.pipeline.metrics["possible_duplicate_sends"] == 0
    with app.store.session() as s:  # a worker died mid-send: "sending" with a lapsed lease
        conv = s.get(Conversation, rec.conversation_id)
        orphan = app.store.add_outbound(s, conv, "a reply cut off in flight")
        s.flush()
        s.execute(update(Message).where(Message.id == orphan.id).values(
            status="sending", attempts=1, lease_until=utcnow() - timedelta(seconds=1)))
    await app.pipeline.dispatch()
    assert channel.texts()[-1] == "a reply cut off in flight"
    assert app.pipeline.metrics["possible_duplicate_sends"] == 1
    assert "fancare_possible_duplicate_sends_total 1.0" in app.metrics.render().decode()
    assert fresh_id != orphan.id


async def test_what_nlu_threads_auto_decided_is_exported(app: Any) -> None:
    """`fancare_e5_passes_total{threads}` and `fancare_e5_other_cores_busy` come from the real e5 passes
    a fan's message causes, under `nlu.threads: auto`; under a fixed count (the tests' default) they
    are absent."""
    from nlu.encoders import adapt_pass_threads, pass_cores
    from tests.fakes.cores import auto_threads_on_a_quiet_machine

    app.pipeline.add_channel(RecordingChannel())
    before = pass_cores()  # a CLI command run in this process earlier (bot.cli.main) may have set `auto`
    adapt_pass_threads(None)
    try:
        assert "fancare_e5_passes" not in app.metrics.render().decode()
    finally:
        adapt_pass_threads(before)
    with auto_threads_on_a_quiet_machine():
        await app.pipeline.handle(fan_message("¿cuánto tarda el envío a Alemania?", user="es-auto"))
        body = app.metrics.render().decode()
    passes = {ln.split("{")[1].split("}")[0]: float(ln.rsplit(" ", 1)[1])
              for ln in _family(body, "fancare_e5_passes_total{")}
    assert set(passes) == {'threads="2"'} and passes['threads="2"'] >= 1, body
    busy = float(_family(body, "fancare_e5_other_cores_busy ")[0].split()[1])
    assert 0.0 <= busy < 0.3
