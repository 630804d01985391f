"""The review inbox from real pipeline data (SQLite and PostgreSQL) and the terminal UI driven through
piped stdin, down to the Rasa YAML it writes."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from sqlalchemy import select

from bot import inbox
from bot.cli import main
from bot.review import collect
from bot.review_tui import ReviewSession, run_review
from bot.store import Escalation
from nlu.readers import load_training_data, read_rasa_yaml
from nlu.similar import default_embedder
from nlu.validate import validate
from tests.conftest import REPO, write_config
from tests.fakes.recording_channel import RecordingChannel, fan_message

UNCLEAR = ["blorp fizzle wumbo", "Blorp fizzle wumbo!!", "blorp  fizzle  wumbo", "zzkq vrrp"]


async def _traffic(app) -> None:
    app.pipeline.add_channel(RecordingChannel())
    for i, text in enumerate([*UNCLEAR, "hello!", "hello there"]):
        await app.pipeline.handle(fan_message(text, user=f"f{i}"))
    await app.pipeline.handle(fan_message("I want to talk to a human please", user="h1"))
    with app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
    assert inbox.claim(app.store, esc.id, "op").ok
    assert inbox.close(app.store, app.domain, esc.id, "op", "handed_back").ok


def _training_copy(tmp_path: Path) -> Path:
    d = tmp_path / "training_data"
    d.mkdir()
    shutil.copy(REPO / "training_data" / "nlu.yml", d / "nlu.yml")
    return d


async def test_inbox_groups_unsure_messages_and_labels_land_in_training_data(app, tmp_path):
    await _traffic(app)
    items = collect(app.store, embed=default_embedder())
    texts = [i.text.lower() for i in items]
    assert texts[0].startswith("blorp") and items[0].count >= 2  # grouped, most frequent first
    assert items[0].reasons.get("fallback", 0) + items[0].reasons.get("low_margin", 0) == items[0].count
    assert not any(t.startswith("hello") for t in texts)  # the NLU was sure about those
    handed = [i for i in items if "handed_back" in i.reasons]
    assert handed and handed[0].text == "I want to talk to a human please"
    d = _training_copy(tmp_path)
    session = ReviewSession(app.store, d, load_training_data([d]).intents, operator="trainer")
    blorp = next(i for i in items if i.text.lower().startswith("blorp"))
    order = {id(blorp): "o\n", id(handed[0]): "a\n"}
    script = "".join(order.get(id(i), "s\n") for i in items)
    out = io.StringIO()
    summary = run_review(session, items, io.StringIO(script), out)
    assert summary.labelled == 2, out.getvalue()
    reviewed = read_rasa_yaml(d / "reviewed.yml")
    labels = {e.text: e.intent for e in reviewed.examples}
    assert all(labels[" ".join(t.split())] == "out_of_scope" for t in blorp.texts)
    assert labels["I want to talk to a human please"] == "human_handoff"
    assert not [p for p in validate(load_training_data([d])) if p.level == "error"]
    # decided wordings leave the inbox; skipped ones stay
    left = collect(app.store, embed=default_embedder())
    assert all(not i.text.lower().startswith("blorp") for i in left)
    assert len(left) == len(items) - 2


async def test_review_cli_with_piped_stdin(app, store_url, model_dir, tmp_path, monkeypatch, capsys):
    await _traffic(app)
    d = _training_copy(tmp_path)
    cfg = write_config(tmp_path, store_url, model_dir, nlu={"training_data": [str(d)], "model_dir": str(model_dir)})
    assert main(["review", "--config", str(cfg), "--list"]) == 0
    listed = capsys.readouterr().out
    assert "blorp" in listed.lower()
    monkeypatch.setattr("sys.stdin", io.StringIO("n nonsense_words\nq\n"))
    assert main(["review", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "1 item(s) labelled" in out and "new intent nonsense_words" in out
    pending = read_rasa_yaml(d / "review" / "new_intents.yml")
    assert {e.intent for e in pending.examples} == {"nonsense_words"}
    assert "nonsense_words" not in load_training_data([d]).intents  # waits for 5 examples
