"""The report's Languages section (issue 13): per language, fans, messages, how much was understood,
escalations, median NLU confidence, the share of replies in the fan's language and the brand's
translation coverage, on SQLite and PostgreSQL.

Messages, fans and conversations are written through the store's own writers (`record_inbound`;
`add_outbound` with the payload of a response the brand's domain rendered, as `bot.inbox` writes
it); NLU results and escalations as the pipeline writes them (ORM rows: the store has no writer
for them), with known languages, readings, confidences and times, so every number is checked exactly."""

from __future__ import annotations

import json
import re
import statistics
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.analytics import Window, build_report, format_stats, write_report
from bot.analytics.languages import coverage_from_config, median_of_histogram
from bot.app import load_app_domain
from bot.cli import main
from bot.config import load_config
from bot.store import Conversation, Escalation, Message, NLUResult, Store
from bot.store.models import utcnow
from dialogs.domain import Outgoing
from tests.conftest import write_config

ES_PARTIAL = """\
language: es
responses:
  utter_goodbye:
    - text: "¡Adiós {name}, que tengas un gran día! 👋"
  utter_thanks:
    - text: "¡De nada! ¿Algo más?"
"""

# (user, chat, NLU language, intent, confidence, fallback, language in the moderation signals)
MESSAGES: list[tuple[str, str, str | None, str, float, bool, str | None]] = [
    ("ana", "dm-ana", "es", "greet", 0.90, False, "es"),
    ("ana", "dm-ana", "es", "order_status", 0.80, False, "es"),
    ("ana", "dm-ana", "es", "faq", 0.30, True, "es"),
    ("ana", "group-1", "es", "out_of_scope", 0.70, False, "es"),
    ("ben", "dm-ben", "es", "greet", 0.95, False, "es"),
    ("ben", "dm-ben", "es", "thanks", 0.60, False, "es"),
    ("ben", "dm-ben", "en", "greet", 0.85, False, "en"),
    ("cat", "dm-cat", "en", "faq", 0.50, False, "en"),
    ("cat", "dm-cat", "en", "faq", 0.60, False, "en"),
    ("cat", "dm-cat", "en", "faq", 0.70, False, "en"),
    ("cat", "dm-cat", "en", "faq", 0.90, False, "en"),
    ("dan", "dm-dan", "und", "greet", 0.40, False, "de"),  # the router could not tell; the identifier did
    ("eve", "dm-eve", None, "greet", 0.20, True, None),  # nobody could tell
    ("eve", "dm-eve", "und", "greet", 0.25, True, "und"),
]


def _write(store: Store) -> dict[str, int]:
    """The rows above, inside the window; one message and one escalation before it. Returns chat -> conversation."""
    convs: dict[str, int] = {}
    old = utcnow() - timedelta(days=3)
    for i, (user, chat, lang, intent, conf, fallback, sig_lang) in enumerate(MESSAGES):
        rec = store.record_inbound(channel="test", external_id=f"m{i}", chat_id=chat, user_id=user, text=f"text {i}")
        convs[chat] = rec.conversation_id
        with store.session() as s:
            s.add(NLUResult(message_id=rec.message_id, intent=intent, confidence=conf, fallback=fallback,
                            language=lang, signals={"language": sig_lang} if sig_lang else {}))
    before = store.record_inbound(channel="test", external_id="m-old", chat_id="dm-cat", user_id="cat", text="old")
    with store.session() as s:
        s.get_one(Message, before.message_id).created_at = old
        s.add(NLUResult(message_id=before.message_id, intent="faq", confidence=0.1, fallback=True, language="en",
                        created_at=old))
        s.add(Escalation(conversation_id=convs["dm-ben"], queue="general", priority="normal"))
        s.add(Escalation(conversation_id=convs["dm-cat"], queue="general", priority="normal", created_at=old))
    return convs


# chat -> the languages the bot's replies there are rendered in (the fan's language or not)
REPLIES = {"dm-ana": ["es", "es", "en"], "group-1": ["es"], "dm-ben": ["es", "en"], "dm-cat": ["en", "en", "es"],
           "dm-eve": ["en"]}


def _write_replies(store: Store, convs: dict[str, int], config: Path) -> None:
    """The bot's replies of `REPLIES`, rendered by the brand's domain (a response translated into
    Spanish, or one this config leaves in English); in Ana's chat also an operator's plain text and a
    reply stored before the language was recorded (neither counted) and a Spanish reply before the window."""
    domain = load_app_domain(load_config(config))
    untranslated = next(n for n in sorted(domain.responses) if domain.answered_in(n, "es") == "en")
    render = {"es": domain.render("utter_goodbye", {"name": "Ana"}, language="es"),
              "en": domain.render(untranslated, language="es")}
    assert {lang: out.language for lang, out in render.items()} == {"es": "es", "en": "en"}
    with store.session() as s:
        for chat, said in REPLIES.items():
            conv = s.get_one(Conversation, convs[chat])
            for lang in said:
                store.add_outbound(s, conv, render[lang].text, payload=render[lang].as_payload())
        ana = s.get_one(Conversation, convs["dm-ana"])
        store.add_outbound(s, ana, "Hi, I'm here to help", sender="operator", payload=Outgoing("Hi").as_payload())
        store.add_outbound(s, ana, "Hola", payload={"buttons": [], "response": "utter_greet"})
        old = store.add_outbound(s, ana, render["es"].text, payload=render["es"].as_payload())
        s.flush()
        old.created_at = utcnow() - timedelta(days=3)


def _config(tmp_path: Path, store_url: str) -> Path:
    """The demo brand with Spanish partly translated (two responses in a file, plus the domain's inline
    `language: es` variations) and German only inline, instead of the demo's complete translations."""
    tr = tmp_path / "translations"
    tr.mkdir()
    (tr / "es.yml").write_text(ES_PARTIAL, encoding="utf-8")
    return write_config(tmp_path, store_url, tmp_path, dialogs={"translations": str(tr)})


def _window() -> Window:
    now = utcnow()
    return Window(now - timedelta(days=1), now + timedelta(hours=1))


def _validate_coverage(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, tuple[int, int, int, int]]:
    """What `fancare data validate` prints per language: (responses, of, articles, of)."""
    capsys.readouterr()
    assert main(["data", "validate", "--config", str(config)]) == 0
    out = {}
    for line in capsys.readouterr().out.splitlines():
        m = re.match(r"\s+(\w+): responses (\d+)/(\d+) \(\d+%\), articles (\d+)/(\d+)", line)
        if m:
            out[m[1]] = (int(m[2]), int(m[3]), int(m[4]), int(m[5]))
    return out


def test_languages_counted_from_the_store(store: Store, store_url: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    convs = _write(store)
    config = _config(tmp_path, store_url)
    _write_replies(store, convs, config)
    coverage = coverage_from_config(load_config(config))
    assert coverage is not None
    report = build_report(store, _window(), coverage=coverage)
    rows = {r["language"]: r for r in report["languages"]}
    assert [r["language"] for r in report["languages"]] == ["es", "en", "und", "de"]  # most messages first
    assert sum(r["messages"] for r in report["languages"]) == report["summary"]["messages_in"] == len(MESSAGES)

    es = rows["es"]
    assert (es["fans"], es["messages"], es["conversations"]) == (2, 6, 3)
    assert (es["understood"], es["fallbacks"], es["out_of_scope"]) == (4, 1, 1)
    assert (es["understood_share"], es["fallback_rate"], es["out_of_scope_rate"]) == (0.6667, 0.1667, 0.1667)
    assert es["median_confidence"] == 0.75  # (0.70 + 0.80) / 2
    assert (es["escalated_conversations"], es["escalation_rate"]) == (1, 0.3333)  # Ben's chat, not Ana's two
    # Ana's chat 2 of 3 (her operator's text, the unrecorded and the old reply not counted), group 1 of 1, Ben's 1 of 2
    assert (es["replies"], es["replies_in_language"], es["replies_in_language_share"]) == (6, 4, 0.6667)

    en = rows["en"]  # Ben's one English message puts his (escalated) chat in English too
    assert (en["fans"], en["messages"], en["conversations"], en["understood"]) == (2, 5, 2, 5)
    assert en["median_confidence"] == 0.7 and en["fallback_rate"] == 0.0
    assert en["escalation_rate"] == 0.5  # Cat's escalation and 0.1 message were before the window
    assert (en["replies"], en["replies_in_language"], en["replies_in_language_share"]) == (5, 3, 0.6)  # Ben's, Cat's
    assert (rows["de"]["replies"], rows["de"]["replies_in_language"], rows["de"]["replies_in_language_share"]) \
        == (0, 0, None)  # Dan got no reply

    assert (rows["de"]["messages"], rows["de"]["fans"], rows["de"]["median_confidence"]) == (1, 1, 0.4)
    und = rows["und"]
    assert (und["messages"], und["fallbacks"], und["understood_share"], und["median_confidence"]) == (2, 2, 0.0, 0.225)
    assert und["responses_translated"] is None and und["escalation_rate"] == 0.0
    assert (und["replies"], und["replies_in_language"], und["replies_in_language_share"]) == (1, None, None)

    # translation coverage: the numbers `fancare data validate` prints for the same brand
    validated = _validate_coverage(config, capsys)
    for lang in ("es", "en", "de"):
        r = rows[lang]
        assert (r["responses_translated"], r["responses_total"], r["articles_translated"],
                r["articles_total"]) == validated[lang]
    # the half-translated Spanish of this config, not the demo's complete translations
    assert 0 < rows["es"]["responses_translated"] < rows["es"]["responses_total"]
    assert rows["en"]["responses_coverage"] == 1.0

    html = write_report(report, tmp_path / "r.html")[0].read_text(encoding="utf-8")
    section = html[html.index("<h2>Languages</h2>"):html.index("<h2>The care team</h2>")]
    done, total = rows["es"]["responses_translated"], rows["es"]["responses_total"]
    assert f"<td>es</td><td class=\"n\">2</td><td class=\"n\">6</td><td>66.7%</td><td>16.7%</td><td>16.7%</td>" \
           f"<td>33.3%</td><td>0.750</td><td>4/6 (67%)</td><td>{done}/{total} ({100 * done / total:.0f}%)</td>" \
           in section
    assert "<td>0.225</td><td>n/a</td>" in section and "<td>0.400</td><td>0/0</td>" in section  # und; Dan: no reply
    assert "not recorded" not in section and "Answered in it: of the bot's replies" in section
    assert "languages: es 6 (66.7% understood, 66.7% answered in es); en 5 (100.0% understood, 60.0% answered in " \
           "en); und 2 (0.0% understood); de 1 (100.0% understood)" in format_stats(report)


def test_a_window_over_the_whole_history_reads_the_tables_in_storage_order(store: Store, store_url: str,
                                                                          tmp_path: Path) -> None:
    """`Window.on_table`: the rows found through the time index (a window that leaves the older rows
    out) or, on SQLite, read in storage order (a window that holds every row) are the window's rows."""
    _write_replies(store, _write(store), _config(tmp_path, store_url))
    now = utcnow()
    everything = Window(now - timedelta(days=4), now + timedelta(hours=1))
    with store.session() as s:  # PostgreSQL's planner sees the range holds every row: the time filter stays
        whole = str(everything.on_table(s, NLUResult.created_at, NLUResult.id))
        assert ("nlu_results.id <=" in whole) == (store.engine.dialect.name == "sqlite")
        assert "nlu_results.id" not in str(_window().on_table(s, NLUResult.created_at, NLUResult.id))
    report = build_report(store, everything)
    en = next(r for r in report["languages"] if r["language"] == "en")
    assert (en["messages"], en["fallbacks"], en["median_confidence"]) == (6, 1, 0.65)  # with Cat's 0.1 message
    assert en["escalation_rate"] == 1.0  # Cat's escalation of three days ago is in this window
    es = next(r for r in report["languages"] if r["language"] == "es")
    assert (es["replies"], es["replies_in_language"]) == (7, 5)  # with Ana's Spanish reply of three days ago
    assert sum(r["messages"] for r in report["languages"]) == report["summary"]["messages_in"] == len(MESSAGES) + 1
    assert report["intents"]["fallbacks"] == 4 and report["summary"]["escalations"] == 2


def test_stats_json_carries_the_languages_and_a_broken_translation_is_named(
        store: Store, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(store)
    config = _config(tmp_path, store_url)
    assert main(["stats", "--config", str(config), "--days", "1", "--json"]) == 0
    rows = {r["language"]: r for r in json.loads(capsys.readouterr().out)["languages"]}
    assert 0 < rows["es"]["responses_translated"] < rows["es"]["responses_total"] and rows["es"]["messages"] == 6
    broken = tmp_path / "translations" / "es.yml"
    broken.write_text("language: es\nresponses:\n  utter_greet: hola\n", encoding="utf-8")
    assert main(["stats", "--config", str(config), "--days", "1"]) == 0
    captured = capsys.readouterr()
    assert f"warning: translation coverage left out of the report: {broken}:3: utter_greet:" in captured.err
    assert "languages: es 6 (66.7% understood)" in captured.out  # the report of what happened still runs


def test_an_empty_window_has_no_languages(store: Store) -> None:
    report = build_report(store, _window())
    assert report["languages"] == []
    assert "languages:" not in format_stats(report)


@pytest.mark.parametrize("values", [[0.5], [0.3, 0.9], [0.1, 0.1, 0.7, 0.8], [0.2, 0.4, 0.4, 0.4, 0.9, 0.95]])
def test_median_of_histogram_is_the_median_of_the_values(values: list[float]) -> None:
    counts: dict[float, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    got: Any = median_of_histogram(counts)
    assert got == pytest.approx(statistics.median(values))
    assert median_of_histogram({}) is None
