"""Orders without the NLU model: the configured number format, the CSV table, the ownership check,
the verify action's slots, and `HttpOrderLookup` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import FancareConfig, OrdersConfig
from bot.order_http import HttpOrderLookup, OrderLookupError
from bot.order_owner import FAILURES_SLOT, LINKS_SLOT, OwnerCheck, blocked, proof_kind
from bot.orders import (
    CsvOrderTable,
    Order,
    OrderNumberFormat,
    normalise_order_number,
    number_format_from_config,
    order_lookup_from_config,
    set_order_number_format,
)
from dialogs.actions import ActionCall, ActionRegistry
from dialogs.builtin_actions import builtin_actions
from dialogs.flows import NORMALISERS
from nlu.yamlfile import DataError
from tests.fakes.shop_server import ShopServer

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "dialogs" / "demo_orders.csv"


@pytest.fixture
def brand_format() -> Iterator[None]:
    """Another brand's format for one test; the demo's is put back afterwards."""
    set_order_number_format(OrderNumberFormat.build(r"\bORD[-\s]?(\d{8})\b", "ORD-{digits}", "ORD-12345678"))
    yield
    set_order_number_format(None)


# -- the number format ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "want"), [("vt 482913", "VT-482913"), ("VT482913", "VT-482913"),
                                             ("it's VT\u2013482913!", "VT-482913"), ("VT-48291", None),
                                             ("482913", None)])
def test_demo_format(typed: str, want: str | None) -> None:
    assert normalise_order_number(typed) == want


def test_the_configured_format_reaches_the_flow_normaliser(brand_format: None) -> None:
    assert NORMALISERS["order_number"]("my order is ord 12345678") == "ORD-12345678"
    assert NORMALISERS["order_number"]("VT-482913") is None


def test_config_default_matches_the_demo_and_bad_settings_name_the_key() -> None:
    fmt = number_format_from_config(FancareConfig())
    assert fmt.normalise("vt482913") == "VT-482913" and fmt.example == "VT-123456"
    with pytest.raises(ValueError, match="number_pattern"):
        OrdersConfig(number_pattern="(VT)(\\d+)")
    with pytest.raises(ValueError, match="number_format"):
        OrdersConfig(number_format="VT-")
    with pytest.raises(ValueError, match="orders.number_example"):
        OrderNumberFormat.build(r"\bVT-(\d{6})\b", "VT-{digits}", "12-34")
    # a pattern without a group: the whole match is the canonical number (upper-cased)
    assert OrderNumberFormat.build(r"\b[A-Z]{2}\d{5}\b", "{digits}", "AB12345").normalise("ref ab12345") == "AB12345"


# -- the CSV table ---------------------------------------------------------------------------------------

def test_csv_reads_owner_columns_and_old_tables_still_work(tmp_path: Path) -> None:
    order = CsvOrderTable(TABLE).get("VT-482913")
    assert order is not None and order.email == "maya.lopez@example.com" and order.postcode == "10115"
    old = tmp_path / "old.csv"
    old.write_text("order_number,status,product,eta,placed_at\nVT-000001,shipped,Dock,,\n")
    legacy = CsvOrderTable(old).get("vt-000001")
    assert legacy == Order("VT-000001", "shipped", "Dock")


def test_csv_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("order_number,status\nVT-000001,shipped\n")
    with pytest.raises(DataError, match="product"):
        CsvOrderTable(bad).get("VT-000001")
    bad.write_text("order_number,status,product\nVT-000001,shipped,Dock\n,shipped,Dock\n")
    with pytest.raises(DataError) as err:
        CsvOrderTable(bad).get("VT-000001")
    assert err.value.line == 3


# -- the ownership check -----------------------------------------------------------------------------------

ORDER = Order("VT-100200", "delivered", "Voltora Pulse 3", email="Alex.Kim@example.com", postcode="SW1A 1AA")


@pytest.mark.parametrize(("proof", "kind"), [
    ("alex.kim@example.com", "email"), ("it's ALEX.KIM@example.com.", "email"), ("sw1a1aa", "postcode"),
    ("my postcode is SW1A 1AA", "postcode"), ("postcode: sw1a 1aa", "postcode"),
    ("alex@example.com", None), ("1AA", None), ("SW1A", None), ("", None)])
def test_proof_kind(proof: str, kind: str | None) -> None:
    assert proof_kind(ORDER, proof) == kind


def test_no_order_never_matches() -> None:
    assert proof_kind(None, "alex.kim@example.com") is None


def test_failures_outside_the_window_do_not_count() -> None:
    check = OwnerCheck(max_failed=2, window_minutes=60)
    now = datetime.now(UTC)
    old = [(now - timedelta(hours=2)).isoformat()] * 5
    assert not blocked({FAILURES_SLOT: old}, check, now)
    assert blocked({FAILURES_SLOT: [*old, now.isoformat(), now.isoformat()]}, check, now)
    with pytest.raises(ValueError, match="orders.verify"):
        OwnerCheck(verify="sms")


def _call(slots: dict[str, Any], name: str = "action_verify_order_owner") -> ActionCall:
    return ActionCall(name=name, sender_id="1", slots=slots)


async def test_verify_action_links_the_order_and_its_email_and_counts_failures() -> None:
    reg = builtin_actions(ActionRegistry(), orders=CsvOrderTable(TABLE), owner=OwnerCheck(max_failed=2))
    first = await reg.run(_call({"order_number": "VT-100200"}))
    assert first.slots["order_verified"] is False and first.slots["order_verify_blocked"] is False
    # before the proof, the lookup refuses too (a flow that skips the check shows nothing)
    assert (await reg.run(_call({"order_number": "VT-100200"}, "action_lookup_order"))).slots == {"order_found": False}

    ok = await reg.run(_call({"order_number": "VT-100200", "order_proof": "alex.kim@example.com"}))
    assert ok.slots["order_verified"] is True and ok.slots["order_proof"] is None
    slots = {LINKS_SLOT: ok.slots[LINKS_SLOT]}
    assert "alex.kim" not in repr(slots)  # only a hash of the email is kept
    found = await reg.run(_call({**slots, "order_number": "VT-100200"}, "action_lookup_order"))
    assert found.slots["order_found"] is True and found.slots["product"] == "Voltora Pulse 3"
    # another order with the same email: linked, no question
    other = await reg.run(_call({**slots, "order_number": "VT-555123"}))
    assert other.slots["order_verified"] is True
    # a different owner's order is not
    stranger = await reg.run(_call({**slots, "order_number": "VT-482913"}))
    assert stranger.slots["order_verified"] is False

    # a wrong email and an unknown order give exactly the same slots (no enumeration)
    wrong = await reg.run(_call({"order_number": "VT-482913", "order_proof": "alex.kim@example.com"}))
    unknown = await reg.run(_call({"order_number": "VT-999999", "order_proof": "alex.kim@example.com"}))
    strip = {FAILURES_SLOT}
    assert {k: v for k, v in wrong.slots.items() if k not in strip} == \
           {k: v for k, v in unknown.slots.items() if k not in strip}
    two = await reg.run(_call({"order_number": "VT-999999", "order_proof": "x@example.com",
                               FAILURES_SLOT: wrong.slots[FAILURES_SLOT]}))
    assert two.slots["order_verify_blocked"] is True
    # blocked: even the right answer is not checked any more
    right = await reg.run(_call({"order_number": "VT-482913", "order_proof": "maya.lopez@example.com",
                                 FAILURES_SLOT: two.slots[FAILURES_SLOT]}))
    assert right.slots["order_verified"] is False and right.slots["order_verify_blocked"] is True


async def test_verify_none_passes_everyone() -> None:
    reg = builtin_actions(ActionRegistry(), orders=CsvOrderTable(TABLE), owner=OwnerCheck(verify="none"))
    out = await reg.run(_call({"order_number": "VT-100200"}))
    assert out.slots["order_verified"] is True
    assert (await reg.run(_call({"order_number": "VT-100200"}, "action_lookup_order"))).slots["order_found"] is True


# -- the HTTP adapter ------------------------------------------------------------------------------------------

SHOP_ORDER = {"number": "VT-482913", "state": "shipped", "item": {"name": "Voltora Buds Pro"},
              "shipping": {"eta": "2026-12-01"}, "customer": {"email": "maya.lopez@example.com", "zip": "10115"}}
FIELDS = {"order_number": "number", "status": "state", "product": "item.name", "eta": "shipping.eta",
          "email": "customer.email", "postcode": "customer.zip"}


@pytest.fixture
def shop() -> Iterator[ShopServer]:
    with ShopServer(token="Bearer s3cret-token", slow_s=1.0) as server:
        server.orders["VT-482913"] = SHOP_ORDER
        yield server


def _lookup(shop: ShopServer, **kw: Any) -> HttpOrderLookup:
    opts: dict[str, Any] = {"auth_env": "SHOP_TOKEN", "env": {"SHOP_TOKEN": "Bearer s3cret-token"},
                            "timeout_s": 0.4, "retries": 1, "backoff_s": 0.01, "fields": FIELDS}
    opts.update(kw)
    return HttpOrderLookup(shop.url, **opts)


def test_http_success_maps_fields_and_sends_the_auth_header(shop: ShopServer) -> None:
    order = _lookup(shop).get("VT-482913")
    assert order == Order("VT-482913", "shipped", "Voltora Buds Pro", "2026-12-01", None,
                          "maya.lopez@example.com", "10115")
    path, headers = shop.requests[-1]
    assert path == "/api/orders/VT-482913" and headers["Authorization"] == "Bearer s3cret-token"


def test_http_404_is_no_such_order(shop: ShopServer) -> None:
    assert _lookup(shop).get("VT-999999") is None
    assert len(shop.requests) == 1  # not retried


def test_http_500_then_success_retries(shop: ShopServer) -> None:
    shop.script = ["500"]
    assert _lookup(shop).get("VT-482913") is not None
    assert len(shop.requests) == 2


def test_http_timeout_retries_then_fails_without_logging_the_secret(shop: ShopServer,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    shop.script = ["slow", "slow"]
    caplog.set_level(logging.DEBUG)
    lookup = _lookup(shop)
    with pytest.raises(OrderLookupError, match="timed out"):
        lookup.get("VT-482913")
    assert len(shop.requests) == 2
    assert "s3cret" not in caplog.text and "s3cret" not in repr(lookup)
    assert "order lookup try 1 of 2: timed out" in caplog.text
    shop.script = ["slow"]  # one timeout, then the answer
    assert lookup.get("VT-482913") is not None


def test_http_refusals_and_bad_answers_are_clear_errors(shop: ShopServer) -> None:
    with pytest.raises(OrderLookupError, match="HTTP 401"):
        _lookup(shop, env={"SHOP_TOKEN": "wrong"}).get("VT-482913")
    with pytest.raises(ValueError, match="SHOP_TOKEN is not set"):
        _lookup(shop, env={})
    shop.orders["VT-000001"] = {"number": "VT-000001"}
    with pytest.raises(OrderLookupError, match="orders.http.fields.status"):
        _lookup(shop).get("VT-000001")


def test_adapter_from_config(shop: ShopServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_TOKEN", "Bearer s3cret-token")
    cfg = FancareConfig.model_validate({"orders": {"adapter": "http", "http": {
        "url": shop.url, "auth_env": "SHOP_TOKEN", "fields": FIELDS}}})
    lookup = order_lookup_from_config(cfg)
    assert isinstance(lookup, HttpOrderLookup) and lookup.get("VT-482913") is not None
    with pytest.raises(ValueError, match="order_number"):
        FancareConfig.model_validate({"orders": {"http": {"url": "http://shop/api/orders"}}})
    with pytest.raises(ValueError, match="unknown order field"):
        FancareConfig.model_validate({"orders": {"http": {"fields": {"colour": "c"}}}})


# -- the shipped flows with the check on, through the flow engine (hand-made NLU results) ---------------------

def _verify_policy() -> Any:
    from dialogs.domain import Domain
    from dialogs.flows import load_flows
    from dialogs.policy import DialogPolicy

    domain = Domain.load(REPO / "dialogs" / "domain.yml")
    orders = CsvOrderTable(TABLE)
    registry = builtin_actions(ActionRegistry(), orders=orders, owner=OwnerCheck(max_failed=2))
    flows = load_flows([REPO / "dialogs" / "flows.yml"], responses=set(domain.responses),
                       actions=registry.names() | {"action_record_csat"})
    return DialogPolicy(domain, None, orders, flows=flows, actions=registry)


async def test_engine_asks_for_the_second_factor_then_answers() -> None:
    import json

    from dialogs.policy import Turn
    from nlu.model import ParseResult

    policy = _verify_policy()
    state: dict[str, Any] = {}

    async def say(text: str, intent: str = "inform", ents: dict[str, str] | None = None) -> list[str | None]:
        nonlocal state
        p = ParseResult(text, intent, 0.95, False, [(intent, 0.95)],
                        [{"entity": k, "value": v} for k, v in (ents or {}).items()], "en", "minilm", "test")
        d = await policy.decide(p, state, Turn(1, text, "Sam"))
        state = json.loads(json.dumps(d.state))
        return [r.response for r in d.replies]

    assert await say("where is VT-482913", "order_status", {"order_number": "VT-482913"}) == ["utter_ask_order_proof"]
    assert await say("nobody@example.com") == ["utter_order_not_matched"]
    assert "order_proof" not in {k for k, v in state["slots"].items() if v is not None}
    assert await say("where is VT-999999", "order_status", {"order_number": "VT-999999"}) == ["utter_ask_order_proof"]
    assert await say("maya.lopez@example.com") == ["utter_order_verify_blocked"]  # the second failure: limit 2
    # blocked: asked no more, even for an order the fan owns
    assert await say("where is VT-482913", "order_status", {"order_number": "VT-482913"}) == ["utter_order_verify_blocked"]
