"""`fancare shell` as a person or a script uses it: a real subprocess, piped stdin, the real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def fancare(*args: str, stdin: str = "", config: Path, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args, "--config", str(config)], input=stdin,
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


def test_piped_conversation_through_the_full_pipeline(config_path):
    lines = ["hi", "how long does shipping take to the UK?", "where is my order", "VT-100200",
             "alex.kim@example.com", "asdf qwer zxcv", "blorp snarf", "thanks a lot!"]
    r = fancare("shell", stdin="\n".join(lines) + "\n", config=config_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Sam" in out  # greeted by name
    assert "How long does shipping take?" in out
    assert "What's your order number?" in out
    assert "email address or postcode you used when ordering?" in out  # orders.verify: the owner only
    assert "Order VT-100200 (Voltora Pulse 3) is delivered." in out
    assert "talk to a person" in out  # two misunderstandings in a row -> offer a human
    assert "[1] Talk to a human" in out


def test_debug_shows_intent_confidence_entities_article(config_path):
    r = fancare("shell", "--debug", stdin="is the buds pro waterproof?\n", config=config_path)
    dbg = [json.loads(line[len("debug> "):]) for line in r.stdout.splitlines() if line.startswith("debug> ")]
    assert dbg and dbg[0]["intent"] == "faq" and 0 < dbg[0]["confidence"] <= 1
    assert {"entity": "product", "value": "Voltora Buds Pro"} in dbg[0]["entities"]
    assert dbg[0]["article"]


def test_escalation_claimed_answered_and_resolved_from_the_shell(config_path):
    script = "\n".join([
        "I want to talk to a real person",
        "#inbox",
        "#reply 1 too early",
        "#claim 1",
        "#reply 1 Hi Sam, this is Dana from Voltora. How can I help?",
        "are you a human?",
        "#resolve 1",
        "5",
    ]) + "\n"
    r = fancare("shell", stdin=script, config=config_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "ticket #1" in out
    assert "#1 [normal] general open" in out
    assert "unclaimed" in out and "not sent" in out
    assert "[local-operator] Hi Sam, this is Dana" in out
    assert "rate the help" in out and "Thanks for your rating" in out
    # the fan's question while a human owned the conversation was relayed, not answered by the bot
    shown = fancare("inbox", "show", "1", config=config_path)
    data = json.loads(shown.stdout)
    assert data["csat"] == 5 and data["state"] == "resolved"
    assert any(t["text"] == "are you a human?" for t in data["transcript"])


def test_operator_reply_from_another_process_reaches_the_fan(config_path):
    r = fancare("shell", stdin="I need a human please\n", config=config_path)
    assert "ticket #1" in r.stdout
    assert fancare("inbox", "claim", "1", "--as", "dana", config=config_path).returncode == 0
    second = fancare("inbox", "claim", "1", "--as", "lee", config=config_path)
    assert second.returncode == 1 and "already claimed by dana" in second.stderr
    assert fancare("inbox", "reply", "1", "Hello from Dana", "--as", "dana", config=config_path).returncode == 0
    # the fan's next shell session delivers the queued operator reply
    r2 = fancare("shell", stdin="", config=config_path)
    assert "[dana] Hello from Dana" in r2.stdout


def test_restart_keeps_conversation_state(config_path):
    fancare("shell", stdin="where is my order?\n", config=config_path)
    r = fancare("shell", stdin="VT-482913\n", config=config_path)
    assert "email address or postcode" in r.stdout and "Order VT-482913" not in r.stdout
    r = fancare("shell", stdin="maya.lopez@example.com\n", config=config_path)
    assert "Order VT-482913" in r.stdout
