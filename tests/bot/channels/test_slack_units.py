"""Small, fast checks of the Slack console's pure parts and its manifest. (That migration 0002
matches the Slack models is checked with all models in tests/bot/test_store.py.)"""

from __future__ import annotations

import pytest

from bot.channels.slack_http import verify
from bot.channels.slack_text import escape, fan_text_for_slack, mask_personal_data, slack_to_plain


@pytest.mark.parametrize("text,expected", [
    ("<!channel> hi", "&lt;!channel&gt; hi"),
    ("<@U123> & <https://x|y>", "&lt;@U123&gt; &amp; &lt;https://x|y&gt;"),
    ("a\u202eb\u2066c\u200fd\u061ce", "abcde"),
])
def test_escape(text, expected):
    assert escape(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("write to jo.doe+x@mail.co.uk", "write to [email]"),
    ("card 4111-1111-1111-1111 thx", "card [card number] thx"),
    ("+1 (415) 555-0100", "[phone number]"),
    ("order VT-482913 on 2024-05-01, 12 items", "order VT-482913 on 2024-05-01, 12 items"),
    ("a mistyped card 1234 5678 9012 3456", "a mistyped card [card number]"),
])
def test_masking(text, expected):
    assert mask_personal_data(text) == expected


def test_long_fan_text_is_cut_for_slack_blocks():
    assert len(fan_text_for_slack("x" * 10_000, mask=False)) <= 2901


def test_operator_mrkdwn_becomes_plain_text():
    assert slack_to_plain("&lt;3 <https://a.example/b|docs> <https://a.example> <mailto:x@y.z|x@y.z> <!here>") \
        == "<3 docs (https://a.example/b) https://a.example x@y.z"


def test_verify_rejects_without_raising():
    body = b"{}"
    assert verify("s", body, "", "", 0) == (400, "bad timestamp")
    assert verify("s", body, "\u0661\u0662", "v0=", 0) == (400, "bad timestamp")  # Arabic-Indic digits
    assert verify("s", body, "100", "v0=\udcff", 100) == (401, "invalid signature")
    assert verify("s", body, "100", "x", 401) == (401, "stale request")


def test_manifest_matches_what_the_console_listens_to():
    import yaml

    from bot.config import SlackConfig
    from tests.conftest import REPO

    m = yaml.safe_load((REPO / "slack" / "manifest.yml").read_text())
    path = SlackConfig.model_fields["path"].default
    assert [c["command"] for c in m["features"]["slash_commands"]] == ["/fancare"]
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) >= {"message.channels", "message.groups"}
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert {"chat:write", "channels:history", "commands", "usergroups:read"} <= set(m["oauth_config"]["scopes"]["bot"])
    urls = [m["settings"]["event_subscriptions"]["request_url"], m["settings"]["interactivity"]["request_url"],
            m["features"]["slash_commands"][0]["url"]]
    assert all(u.endswith(path) for u in urls)
