"""The load and storm benchmarks' own logic (benchmarks/telegram_load.py, storm.py, telegram_run.py,
fancare_cluster.py): the message mix and its schedule, how replies are matched to messages, how the storm counts lost,
duplicate and out-of-order answers, and that the config they start fancare with is one fancare accepts.
The benchmarks themselves are run by hand (BENCHMARKS.md); these keep their bookkeeping honest."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from benchmarks.fancare_cluster import (
    LIFTED_LIMITS,
    SECRET_ENV,
    TOKEN_ENV,
    WEBHOOK_SECRET,
    Cluster,
    Settings,
    cpu_seconds,
    parse_metrics,
)
from benchmarks.storm import Question, Sent, judge, plan
from benchmarks.telegram_load import MIX_WEIGHTS, load_scripts, match, schedule
from benchmarks.telegram_run import Replies
from tests.fakes.telegram_server import TOKEN


class _FakeOfCalls:
    """What `Replies` hooks into: a list of call callbacks."""

    def __init__(self) -> None:
        self.on_call: list[object] = []


class _Call:
    def __init__(self, chat: int, at: float, text: str = "x") -> None:
        self.method = "sendMessage"
        self.params = {"chat_id": str(chat), "text": text}
        self.at = at


def _replies(calls: list[tuple[int, float, str]]) -> Replies:
    r = Replies(_FakeOfCalls())
    for chat, at, text in calls:
        r._on_call(_Call(chat, at, text))
    return r


def test_the_mix_is_the_repositorys_conversations_of_every_kind() -> None:
    scripts = load_scripts()
    kinds = {s.kind for s in scripts}
    assert set(MIX_WEIGHTS) <= kinds
    assert {s.language for s in scripts} >= {"en", "es", "de", "fr"}
    assert any(len(s.turns) >= 3 for s in scripts if s.kind == "order")  # forms keep their follow-up turns


def test_the_schedule_offers_at_a_fixed_rate_and_keeps_each_fans_turns_in_order() -> None:
    offers = schedule(rate=20, seconds=5, fans=30, seed=3)
    assert len(offers) == 100
    assert [round(o.at, 6) for o in offers] == [round(i / 20, 6) for i in range(100)]
    assert len({o.fan for o in offers}) == 30
    assert schedule(rate=20, seconds=5, fans=30, seed=3) == offers  # reproducible
    scripts = {s.name: s for s in load_scripts()}
    per_fan: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    for o in offers:
        assert scripts[o.script].turns[o.turn] == o.text
        per_fan[o.fan].append((o.script, o.turn, o.text))
    # a fan's messages are whole conversations, turn after turn (the last may be cut by the end)
    for turns in per_fan.values():
        for (name, k, _), (next_name, next_k, _) in zip(turns, turns[1:], strict=False):
            if next_k > 0:
                assert (next_name, next_k) == (name, k + 1)
            else:
                assert k == len(scripts[name].turns) - 1


def test_replies_are_matched_to_messages_in_order_per_chat() -> None:
    pushed = {1: [0.0, 5.0], 2: [1.0]}
    replies = _replies([(1, 0.2, "a"), (1, 0.25, "a2"), (1, 5.1, "b"), (2, 3.0, "c")])
    assert match(pushed, replies) == {1: [0.2, 5.1], 2: [3.0]}
    late = _replies([(1, 0.2, "a")])  # the second message never answered
    assert match(pushed, late)[1] == [0.2, None]


def _questions() -> list[Question]:
    return [Question(f"q{i}", f"answer {i}", (f"more {i}",)) for i in range(3)]


def test_the_storm_judge_counts_lost_duplicate_and_out_of_order_answers() -> None:
    qs = _questions()
    sent = [Sent(0.0, 7, 0), Sent(0.1, 7, 1), Sent(0.2, 7, 2), Sent(0.3, 8, 0)]
    clean = judge(sent, _replies([(7, 1.0, "answer 0"), (7, 1.01, "more 0"), (7, 1.1, "answer 1"),
                                  (7, 1.2, "answer 2"), (8, 1.3, "answer 0")]), qs)
    assert (clean["lost"], clean["duplicates"], clean["out_of_order"]) == (0, 0, 0)
    swapped = judge(sent, _replies([(7, 1.0, "answer 1"), (7, 1.1, "answer 0"), (7, 1.2, "answer 2"),
                                    (7, 1.3, "answer 2")]), qs)
    assert swapped["out_of_order"] == 1 and swapped["fans_out_of_order"] == 1
    assert swapped["duplicates"] == 1 and swapped["lost"] == 1  # fan 8 never answered
    odd = judge(sent[:1], _replies([(7, 1.0, "something else")]), qs)
    assert odd["lost"] == 0 and odd["unrecognised_replies"] == 1
    # a note before the answer neither answers the message nor makes its answer a duplicate
    noted = judge(sent[:1], _replies([(7, 0.5, "one moment"), (7, 1.0, "answer 0")]), qs)
    assert (noted["lost"], noted["duplicates"], noted["unrecognised_beyond_one_per_message"]) == (0, 0, 1)


def test_the_storm_plan_cycles_each_fan_through_its_own_question_order() -> None:
    p = plan(rate=50, seconds=4, fans=5, n_questions=4, seed=1)
    assert len(p) == 200
    per_fan: dict[int, list[int]] = defaultdict(list)
    for _, fan, q in p:
        per_fan[fan].append(q)
    for qs in per_fan.values():
        first = qs[:4]
        assert sorted(first) == list(range(min(4, len(qs)))) or len(qs) < 4
        assert all(qs[i] == first[i % 4] for i in range(len(qs)))


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_the_config_it_starts_fancare_with_is_one_fancare_accepts(tmp_path: Path, model_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    mode: str) -> None:
    from bot.config import load_config

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(SECRET_ENV, WEBHOOK_SECRET)
    cluster = Cluster(Settings(mode=mode, workers=2, store_url="postgresql+psycopg://u@127.0.0.1/x",
                               lift_limits=True, model_dir=model_dir), "http://127.0.0.1:1/bot", tmp_path)
    cluster.prepare()
    assert [p.name for p in cluster.procs] == ["receiver", "worker-1", "worker-2"]
    assert len({p.ops_port for p in cluster.procs}) == 3
    cfg = load_config(cluster.procs[1].config)
    tg = cfg.channels.telegram
    assert tg is not None and tg.mode == mode and tg.base_url == "http://127.0.0.1:1/bot"
    assert tg.rate_limits.overall_per_s == LIFTED_LIMITS["overall_per_s"]
    assert cfg.ops.port == cluster.procs[1].ops_port
    assert (cluster.models / "LATEST").exists() and cluster.models != model_dir  # a copy per run
    if mode == "webhook":
        assert tg.webhook.port == cluster.webhook_port


def test_metrics_and_cpu_are_read_from_the_processes_own_reports() -> None:
    text = ("# HELP x\nfancare_possible_duplicate_sends_total 3.0\n"
            'fancare_messages_total{channel="telegram",intent="faq",action="answer"} 2.0\n'
            'fancare_messages_total{channel="telegram",intent="greet",action="utter"} 5.0\n')
    m = parse_metrics(text)
    assert m["fancare_possible_duplicate_sends_total"] == 3.0 and m["fancare_messages_total"] == 7.0
    import os

    mine = cpu_seconds(os.getpid())
    assert mine is not None and mine > 0
    assert cpu_seconds(2**22 + 12345) is None  # no such process
