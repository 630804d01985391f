"""Order ownership end to end: a fan's messages through the real App and `Pipeline.handle` with
`orders.verify: email_or_postcode`, on SQLite and PostgreSQL, and the shop's HTTP API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.orders import set_order_number_format
from bot.store import Escalation
from tests.conftest import write_config
from tests.fakes.recording_channel import RecordingChannel, fan_message
from tests.fakes.shop_server import ShopServer

REPO = Path(__file__).resolve().parents[2]
VERIFY = {"verify": "email_or_postcode", "max_failed_verifications": 3, "demo_table": str(REPO / "dialogs" / "demo_orders.csv")}
ASK_PROOF = "email address or postcode"
NO_MATCH = "doesn't match our records"


def _app(cfg_path: Path, model: Any) -> Any:
    from bot.app import App
    from bot.config import load_config

    return App(load_config(cfg_path), model=model)


@pytest.fixture
def verify_app(tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any) -> Iterator[tuple[Any, RecordingChannel]]:
    app = _app(write_config(tmp_path, store_url, model_dir, orders=VERIFY), nlu_model)
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    yield app, ch
    app.close()
    set_order_number_format(None)


async def say(app: Any, ch: RecordingChannel, text: str, user: str = "u1") -> str:
    before = len(ch.sent)
    await app.pipeline.handle(fan_message(text, user=user))
    return "\n".join(s.message.text for s in ch.sent[before:])


async def test_the_owner_gets_the_status_after_the_email(verify_app: tuple[Any, RecordingChannel]) -> None:
    app, ch = verify_app
    asked = await say(app, ch, "where is my order VT-482913?")
    assert ASK_PROOF in asked and "Buds" not in asked and "shipped" not in asked
    reply = await say(app, ch, "maya.lopez@example.com")
    assert "Order VT-482913 (Voltora Buds Pro) is shipped" in reply


async def test_a_wrong_email_reads_exactly_like_an_unknown_order(verify_app: tuple[Any, RecordingChannel]) -> None:
    app, ch = verify_app
    await say(app, ch, "where is my order VT-482913?", user="a")
    wrong = await say(app, ch, "alex.kim@example.com", user="a")
    await say(app, ch, "where is my order VT-999999?", user="b")
    unknown = await say(app, ch, "alex.kim@example.com", user="b")
    assert NO_MATCH in wrong and wrong == unknown
    assert ch.sent[-1].message.buttons[0].payload == "/human_handoff"


async def test_a_linked_fan_is_not_asked_again_for_an_order_with_the_same_email(
        verify_app: tuple[Any, RecordingChannel]) -> None:
    app, ch = verify_app
    await say(app, ch, "where is my order VT-100200?")
    assert "Order VT-100200" in await say(app, ch, "Alex.Kim@example.com")
    second = await say(app, ch, "and where is order VT-555123?")
    assert "Order VT-555123 (Voltora Arc) is processing" in second and ASK_PROOF not in second
    # someone else's order is still asked for
    assert ASK_PROOF in await say(app, ch, "what about VT-777001?")


async def test_refund_shows_the_product_only_after_verification(verify_app: tuple[Any, RecordingChannel]) -> None:
    app, ch = verify_app
    await say(app, ch, "I want a refund")
    asked = await say(app, ch, "VT-100200")
    assert ASK_PROOF in asked and "Pulse" not in asked
    done = await say(app, ch, "my postcode is SW1A 1AA")
    assert "refund request for order VT-100200 (Voltora Pulse 3)" in done
    with app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
    assert esc.queue == "refunds" and "order_proof" not in esc.reason
    assert "SW1A" not in repr(esc.reason)


async def test_failed_attempts_are_limited_across_two_apps_on_one_database(
        tmp_path: Path, store_url: str, model_dir: Path, nlu_model: Any) -> None:
    cfg = write_config(tmp_path, store_url, model_dir, orders=VERIFY)  # 3 failures per hour
    one, two = _app(cfg, nlu_model), _app(cfg, nlu_model)
    ch1, ch2 = RecordingChannel(), RecordingChannel()
    one.pipeline.add_channel(ch1)
    two.pipeline.add_channel(ch2)
    try:
        for app, ch in ((one, ch1), (two, ch2)):
            assert ASK_PROOF in await say(app, ch, "where is my order VT-482913?")
            assert NO_MATCH in await say(app, ch, "guess@example.com")
        await say(one, ch1, "where is my order VT-482913?")
        assert "can't check orders for you right now" in await say(one, ch1, "75008")  # the third failure
        refused = await say(two, ch2, "where is my order VT-482913?")
        assert "can't check orders for you right now" in refused and ASK_PROOF not in refused
        assert ch2.sent[-1].message.buttons[0].payload == "/human_handoff"
    finally:
        one.close()
        two.close()


async def test_the_shop_api_answers_a_fan_end_to_end(tmp_path: Path, store_url: str, model_dir: Path,
                                                     nlu_model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "Bearer s3cret-token")
    with ShopServer(token="Bearer s3cret-token") as shop:
        shop.orders["VT-246810"] = {"status": "out for delivery", "product": "Voltora Halo", "eta": "2026-11-26",
                                    "email": "lea.martin@example.fr", "postcode": "69002"}
        orders = {**VERIFY, "adapter": "http", "http": {"url": shop.url, "auth_env": "SHOP_TOKEN", "timeout_s": 1.0}}
        app = _app(write_config(tmp_path, store_url, model_dir, orders=orders), nlu_model)
        ch = RecordingChannel()
        app.pipeline.add_channel(ch)
        try:
            assert ASK_PROOF in await say(app, ch, "where is VT-246810")
            reply = await say(app, ch, "69002")
            assert "Order VT-246810 (Voltora Halo) is out for delivery" in reply
            assert {p for p, _ in shop.requests} == {"/api/orders/VT-246810"}
            assert all(h.get("Authorization") == "Bearer s3cret-token" for _, h in shop.requests)
        finally:
            app.close()


async def test_the_configured_format_is_asked_for_and_quoted(tmp_path: Path, store_url: str, model_dir: Path,
                                                             nlu_model: Any) -> None:
    orders = {"demo_table": str(REPO / "dialogs" / "demo_orders.csv"), "number_example": "VT-000042", "verify": "none"}
    app = _app(write_config(tmp_path, store_url, model_dir, orders=orders), nlu_model)
    ch = RecordingChannel()
    app.pipeline.add_channel(ch)
    try:
        asked = await say(app, ch, "where is my order?")
        assert "VT-000042" in asked and "{order_example}" not in asked
        assert "Order VT-482913" in await say(app, ch, "vt 482913")  # verify: none shows it at once
    finally:
        app.close()
        set_order_number_format(None)


async def test_the_ownership_conversations_pass(tmp_path: Path, model_dir: Path, nlu_model: Any) -> None:
    """tests/conversations/en_orders_ownership.yml: what a fan sees, through the conversation test runner
    (also run with every shipped conversation; here on its own, so a failure names the ownership rule)."""
    from bot.conversation_tests import format_failure, load_conversations, run_conversations

    app = _app(write_config(tmp_path, f"sqlite:///{tmp_path / 'app.db'}", model_dir, orders=VERIFY), nlu_model)
    try:
        cases = load_conversations([REPO / "tests" / "conversations" / "en_orders_ownership.yml"])
        assert len(cases) >= 6
        results = await run_conversations(app, cases)
    finally:
        app.close()
    failed = [r for r in results if not r.passed]
    assert not failed, "\n\n".join(format_failure(r) for r in failed)
