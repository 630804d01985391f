"""Moderation end to end through the pipeline, the store (SQLite and PostgreSQL) and the CLI."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

from sqlalchemy import select

from bot.channels.base import Incoming
from bot.cli import main
from bot.store import AuditEvent, Escalation, NLUResult
from bot.store.moderation_models import ModerationItem
from moderation import review
from moderation.actions import LogActions
from moderation.crisis import CrisisMonitor
from moderation.train import train_and_save
from tests.conftest import REPO
from tests.fakes.recording_channel import RecordingChannel

_ids = itertools.count(1000)


def msg(text: str, user: str = "fan-1", chat: str = "group-1") -> Incoming:
    n = next(_ids)
    return Incoming(channel="test", external_id=f"m{n}", chat_id=chat, user_id=user, text=text, display_name="Sam",
                    meta={"message_id": n, "chat_type": "supergroup"})


def wire(app):
    ch, port = RecordingChannel(), LogActions()
    app.pipeline.add_channel(ch)
    app.moderator.actions["test"] = port
    return ch, port


async def test_insult_is_hidden_explained_and_deleted(mod_app):
    ch, port = wire(mod_app)
    res = await mod_app.pipeline.handle(msg("you are a stupid idiot"))
    assert res.debug["moderation"] == "hide" and res.replies == 0 and ch.sent == []
    assert [c[0] for c in port.calls] == ["delete", "notice"]
    assert port.calls[0][1].message_id is not None and port.calls[0][1].chat_id == "group-1"
    with mod_app.store.session() as s:
        sig = s.scalars(select(NLUResult.signals).where(NLUResult.message_id == res.message_id)).one()
        item = s.scalars(select(ModerationItem)).one()
    assert sig["moderation"] == "hide" and sig["offensive"] >= 0.85 and sig["verdict"]["signal"] == "offensive"
    assert (item.rule, item.signal, item.status, item.user_id, item.chat_id) == ("offensive", "offensive", "acted",
                                                                                  "fan-1", "group-1")
    assert item.score >= 0.85


async def test_clean_message_is_answered_and_carries_signals(mod_app):
    ch, port = wire(mod_app)
    res = await mod_app.pipeline.handle(msg("thank you so much, I love my new Pulse 3!"))
    assert res.debug["moderation"] == "allow" and res.replies == 1 and port.calls == []
    assert res.debug["signals"]["sentiment"] == "positive" and res.debug["signals"]["source"] == "heads"


async def test_repeat_offender_is_muted_by_strikes(mod_app):
    ch, port = wire(mod_app)
    actions = [(await mod_app.pipeline.handle(msg(t))).debug["moderation"]
               for t in ("you idiot", "shut up moron", "what a pathetic loser")]
    assert actions == ["hide", "hide", "mute"]
    assert ("restrict", 60) in [(c[0], c[2]) for c in port.calls]
    other = await mod_app.pipeline.handle(msg("you idiot", user="fan-2"))  # strikes are per fan
    assert other.debug["moderation"] == "hide"


async def test_admins_and_anonymous_admins_are_never_moderated(mod_app):
    wire(mod_app)
    assert (await mod_app.pipeline.handle(msg("you idiot", user="admin-1"))).debug["moderation"] == "allow"
    anon = msg("you idiot", user="999")
    anon.meta.update(sender_chat="group-1", chat_id="group-1")
    assert (await mod_app.pipeline.handle(anon)).debug["moderation"] == "allow"


async def test_scam_link_is_hidden_but_the_brand_link_is_not(mod_app):
    wire(mod_app)
    res = await mod_app.pipeline.handle(msg("Earn $500 a day with b1tc0in, join bit.ly/fr33c01n now"))
    assert res.debug["moderation"] == "hide" and res.debug["moderation_rule"] == "scam-link"
    ok = await mod_app.pipeline.handle(msg("the manual is at voltora.com/help, page 3", user="fan-3"))
    assert ok.debug["moderation"] == "allow"


async def test_card_number_is_hidden_and_never_copied_into_signals(mod_app):
    wire(mod_app)
    res = await mod_app.pipeline.handle(msg("my card is 4111 1111 1111 1111 why was I charged twice"))
    assert res.debug["moderation"] == "hide" and res.debug["moderation_rule"] == "card-number"
    with mod_app.store.session() as s:
        sig = s.scalars(select(NLUResult.signals).where(NLUResult.message_id == res.message_id)).one()
    assert sig["pii"] == {"card": 1} and "4111" not in json.dumps(sig)


async def test_repeated_text_and_zalgo_are_hidden(mod_app):
    wire(mod_app)
    results = [(await mod_app.pipeline.handle(msg("JOIN MY CHANNEL", user="fan-4"))).debug["moderation"]
               for _ in range(3)]
    # hidden by the third time at the latest (the repeat rule); a model that reads the text as spam at
    # once hides it from the first, and the third hide is then a strike that mutes
    assert results[-1] in ("hide", "mute") and results.count("allow") <= 2
    z = await mod_app.pipeline.handle(msg("h̷̢̛̖̗̘e̶̡̛̖̗̘l̸̨̛̖̗̘l̴̢̛̖̗̘o̵̢̧̖̗̘", user="fan-5"))
    assert z.debug["moderation"] == "hide" and z.debug["moderation_rule"] == "zalgo"


async def test_two_processes_sharing_the_store_see_one_flood(mod_app, tmp_path, store_url, model_dir, nlu_model,
                                                              mod_heads):
    """Flood and repeats are counted from the store, so a spammer spread over two fancare
    processes (two Apps on one database) is caught as one flood."""
    from tests.moderation.conftest import make_app

    (tmp_path / "p2").mkdir()
    other = make_app(tmp_path / "p2", store_url, model_dir, nlu_model, mod_heads)
    try:
        wire(mod_app)
        wire(other)
        results = []
        for app in [mod_app, other, mod_app]:
            res = await app.pipeline.handle(msg("JOIN MY CHANNEL", user="fan-spread"))
            results.append((res.debug["signals"]["repeat"], res.debug["moderation"]))
        # the third is moderated (hidden, or muted when the model hid all three as spam: strikes)
        assert [r for r, _ in results] == [0, 1, 2] and results[-1][1] in ("hide", "mute")
        res = await other.pipeline.handle(msg("ok sorry", user="fan-spread"))
        assert res.debug["signals"]["flood"] == 4 and res.debug["signals"]["repeat"] == 0
    finally:
        other.close()


async def test_dry_run_records_what_would_happen_and_still_answers(tmp_path, store_url, model_dir, nlu_model,
                                                                     mod_heads):
    from tests.moderation.conftest import make_app

    app = make_app(tmp_path, store_url, model_dir, nlu_model, mod_heads, dry_run=True)
    try:
        ch, port = wire(app)
        res = await app.pipeline.handle(msg("you stupid idiot, where is my order?"))
        assert res.debug["moderation"] == "hide" and res.replies >= 1 and port.calls == []
        rows = review.list_items(app.store, ("acted",))
        assert rows[0].dry_run and rows[0].rule == "offensive"
        assert review.report(app.store)[0]["dry_run"] == 1
    finally:
        app.close()


async def test_appeal_goes_to_a_human_with_the_reason(mod_app):
    ch, _ = wire(mod_app)
    await mod_app.pipeline.handle(msg("you idiot"))
    res = await mod_app.pipeline.handle(msg("why was my comment deleted??"))
    assert res.debug["action"] == "escalate:moderation"
    with mod_app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
    assert esc.queue == "moderation" and esc.reason["last_moderation"]["rule"] == "offensive"
    assert esc.reason["signals"]["sentiment"] in ("negative", "neutral") and "ticket #" in ch.texts()[-1]


async def test_crisis_message_escalates_urgently_with_signals(mod_app):
    wire(mod_app)
    await mod_app.pipeline.handle(msg("my Pulse 3 caught fire and burned my hand"))
    with mod_app.store.session() as s:
        esc = s.scalars(select(Escalation)).one()
    assert (esc.queue, esc.priority) == ("crisis", "urgent") and "offensive" in esc.reason["signals"]


async def test_review_decisions_feed_the_report_and_training(mod_app, config_path, tmp_path, capsys):
    wire(mod_app)
    await mod_app.pipeline.handle(msg("you idiot"))
    await mod_app.pipeline.handle(msg("this update is so dumb lol", user="fan-6"))
    items = review.list_items(mod_app.store, ("pending", "acted"))
    assert len(items) == 2
    cfg = str(mod_app.cfg.source)
    assert main(["moderation", "review", "--all", "--config", cfg]) == 0
    listed = capsys.readouterr().out
    assert f"#{items[0].id}" in listed and "offensive" in listed
    assert main(["moderation", "review", "restore", str(items[1].id), "--config", cfg]) == 0
    assert main(["moderation", "review", "confirm", str(items[0].id), "--config", cfg]) == 0
    assert main(["moderation", "review", "restore", "99999", "--config", cfg]) == 1
    capsys.readouterr()
    assert main(["moderation", "report", "--json", "--config", cfg]) == 0
    report = {r["rule"]: r for r in json.loads(capsys.readouterr().out)}
    restored_rule = items[1].rule
    row = report[restored_rule]
    assert row["restored"] == 1 and row["false_positive_rate"] == round(1 / row["reviewed"], 3)
    labels = review.labelled_examples(mod_app.store)
    assert sorted(lab for _, _, lab in labels) == ["no", "yes"]
    _path, heads = train_and_save(REPO / "training_data" / "moderation", tmp_path, ["minilm"], labelled=labels)
    assert heads.meta["moderator_labels"] == 2


async def test_fan_cannot_trigger_moderator_commands_with_text(mod_app):
    ch, port = wire(mod_app)
    await mod_app.pipeline.handle(msg("you idiot"))
    for text in ("/restore", '/moderation_restore{"id": 1}', "#restore 1", "fancare moderation review ban 1"):
        await mod_app.pipeline.handle(msg(text, user="fan-7"))
    assert [i.status for i in review.list_items(mod_app.store, ("pending", "acted", "restored"))][0] == "acted"
    assert all(c[1].user_id != "fan-1" or c[0] != "ban" for c in port.calls)


async def test_a_storm_of_negative_messages_alerts_the_operators(mod_app):
    """The watch reads the store: two quiet hours already stored (as after a restart: replayed,
    no warm-up wait), then a storm through the pipeline; a second process's watch agrees."""
    from datetime import UTC, datetime

    from bot.store import Contact, Conversation, Message
    from moderation.crisis_feed import CrisisWatch

    wire(mod_app)
    alerts, histories = [], []

    class Operators:
        async def escalation_opened(self, *_a): ...

        async def fan_message(self, *_a): ...

        async def crisis_alert(self, alert, history):
            alerts.append(alert)
            histories.append(history)

    mod_app.pipeline.operators = Operators()
    now = time.time()
    this_minute = int(now // 60)
    with mod_app.store.session() as s:  # two quiet hours: one message a minute, every fifth negative
        contact = Contact(channel="test", external_id="quiet-fan")
        s.add(contact)
        s.flush()
        conv = Conversation(channel="test", chat_id="group-q", contact_id=contact.id, state={})
        s.add(conv)
        s.flush()
        for m in range(this_minute - 120, this_minute):
            at = datetime.fromtimestamp(m * 60 + 20, UTC).replace(tzinfo=None)
            negative = m % 5 == 0
            s.add(Message(conversation_id=conv.id, direction="in", channel="test", external_id=f"q{m}",
                          text="this is broken again" if negative else "nice", status="handled", created_at=at))
            s.flush()
            mid = s.scalars(select(Message.id).where(Message.external_id == f"q{m}")).one()
            s.add(NLUResult(message_id=mid, intent="complaint" if negative else "praise", confidence=0.9,
                            signals={"sentiment": "negative" if negative else "positive"}, created_at=at))
    for i in range(12):
        res = await mod_app.pipeline.handle(msg(f"the app update deleted all my data, terrible #{i}",
                                                user=f"fan-x{i}"))
        assert res.debug["signals"]["sentiment"] == "negative" or res.debug["intent"] == "complaint"
    watches = [CrisisWatch(mod_app.store, CrisisMonitor(warmup_minutes=30, min_count=5), replay_minutes=130)
               for _ in range(2)]
    stop = asyncio.Event()
    stop.set()  # one pass of the timer loop
    found = []
    for w in watches:
        await w.run(mod_app.pipeline.crisis_alert, stop)  # a pass now: the storm's minute is still open
        assert alerts == []
        found.append(w.catch_up(now=now + 125))  # two minutes later: closed and alarmed
    assert found[0] and [a.as_dict() for a in found[0]] == [a.as_dict() for a in found[1]]
    alert = found[0][0]
    assert alert.observed >= 5 and any("deleted" in p for p, _ in alert.top_phrases)
    await mod_app.pipeline.crisis_alert(alert, watches[0].history(alert.key))
    assert alerts == [alert]
    history = histories[0]
    assert len(history) >= 120 and sum(neg for _, _, neg in history[-5:]) >= 12  # the chart's data


async def test_nlu_parse_shows_signals_and_verdict(mod_app, capsys):
    assert main(["nlu", "parse", "fr33 b1tc0in, dm me", "--config", str(mod_app.cfg.source)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["signals"]["spam"] > 0 and "crypto" in out["signals"]["spam_reasons"]
    assert out["moderation"]["action"] in ("flag", "hide")


async def test_telegram_group_actions_go_through_the_bot_api(mod_app, telegram_server):
    """The real python-telegram-bot against the fake Bot API: delete, notice, mute; never admins."""
    from moderation.telegram_actions import TelegramActions
    from tests.fakes.telegram_server import TOKEN

    port = TelegramActions.from_config(
        __import__("bot.config", fromlist=["TelegramConfig"]).TelegramConfig(token=TOKEN,
                                                                            base_url=telegram_server.base_url))
    mod_app.pipeline.add_channel(RecordingChannel(name="telegram"))
    mod_app.moderator.actions["telegram"] = port
    telegram_server.admins.add(77)

    def tg(text: str, user: int, n: int) -> Incoming:
        return Incoming(channel="telegram", external_id=f"-1001:{n}", chat_id="-1001", user_id=str(user), text=text,
                        meta={"message_id": n, "chat_type": "supergroup", "chat_id": -1001})

    try:
        for n, text in enumerate(["you idiot", "shut up moron", "what a pathetic loser"], start=1):
            await mod_app.pipeline.handle(tg(text, 55, n))
        await mod_app.pipeline.handle(tg("you idiot", 77, 9))  # a group admin: the Bot API says so
    finally:
        await port.close()
    deleted = [c.params for c in telegram_server.calls_of("deleteMessage")]
    assert [int(p["message_id"]) for p in deleted] == [1, 2, 3] and all(int(p["chat_id"]) == -1001 for p in deleted)
    muted = telegram_server.calls_of("restrictChatMember")
    assert len(muted) == 1 and int(muted[0].params["user_id"]) == 55 and "until_date" in muted[0].params
    assert len(telegram_server.calls_of("sendMessage")) == 3  # the public notices
    assert telegram_server.calls_of("banChatMember") == []
    assert any(int(c.params["user_id"]) == 77 for c in telegram_server.calls_of("getChatMember"))


def test_fancare_train_writes_heads_that_the_app_loads(tmp_path, store_url, nlu_model, capsys):
    """`fancare train`'s moderation step: CC0 files + moderators' labels -> heads next to the model."""
    from bot.config import load_config
    from moderation.cli import train_moderation
    from moderation.setup import build_moderator
    from tests.conftest import write_config

    cfg = load_config(write_config(tmp_path, store_url, tmp_path / "models"))
    train_moderation(cfg, nlu_model)
    assert "trained moderation heads" in capsys.readouterr().out
    heads = build_moderator(cfg, tmp_path / "models").extractor.heads
    assert heads is not None and set(heads.by_encoder) == set(nlu_model.heads)


async def test_crisis_playbook_from_the_cli_without_slack(mod_app, capsys):
    ch, _ = wire(mod_app)
    cfg = str(mod_app.cfg.source)
    faq = "how long does shipping to Germany take?"
    assert (await mod_app.pipeline.handle(msg(faq, user="fan-c1"))).replies == 1
    assert main(["crisis", "on", "Checkout", "is", "down,", "we're", "on", "it.", "--config", cfg]) == 0
    assert "Crisis playbook ON" in capsys.readouterr().out
    mod_app.playbook._cached = None  # another process switched it: this one re-reads within ttl_s
    res = await mod_app.pipeline.handle(msg(faq, user="fan-c2"))
    assert res.replies == 0 and res.debug["action"] == "crisis:faq_paused"
    assert main(["crisis", "status", "--config", cfg]) == 0
    assert "Checkout is down, we're on it." in capsys.readouterr().out
    assert main(["crisis", "off", "--config", cfg]) == 0
    mod_app.playbook._cached = None
    assert (await mod_app.pipeline.handle(msg(faq, user="fan-c3"))).replies == 1
    with mod_app.store.session() as s:
        kinds = [e.kind for e in s.scalars(select(AuditEvent).where(AuditEvent.kind.like("crisis.playbook%")))]
    assert kinds == ["crisis.playbook_on", "crisis.playbook_off"]


async def test_playbook_switched_off_while_pinning_takes_its_pin_down(mod_app):
    playbook = mod_app.playbook
    playbook.pin_chats = ["-1001", "-1002"]

    class Port:
        def __init__(self):
            self.pinned, self.unpinned = [], []

        async def pin_notice(self, chat, text):
            self.pinned.append(chat)
            if len(self.pinned) == 1:  # another operator switches it off meanwhile
                assert "OFF" in await playbook.switch_off("someone-else", {})
            return 7

        async def unpin(self, chat, mid):
            self.unpinned.append(chat)
            return True

    port = Port()
    out = await playbook.switch_on("op", "Down, on it.", {"telegram": port})
    assert "switched off while" in out and port.unpinned == ["-1001", "-1002"]
    assert not playbook.state(fresh=True).on and playbook.state(fresh=True).pinned == []


async def test_flood_is_counted_on_the_platform_send_times_so_a_backlog_never_trips_it(mod_app):
    """After downtime Telegram delivers a fan's messages of the last minutes all at once: counted
    on Telegram's own send times (`sent_at`) that is no flood; the same messages really sent within
    seconds still are."""
    wire(mod_app)
    start = time.time() - 600

    def sent(text: str, user: str, at: float) -> Incoming:
        m = msg(text, user=user)
        m.meta["sent_at"] = at
        return m

    backlog = [await mod_app.pipeline.handle(sent(f"question number {i} about the buds", "fan-backlog", start + 40 * i))
               for i in range(10)]
    assert max(r.debug["signals"]["flood"] for r in backlog) <= 2
    assert all(r.debug["moderation"] != "mute" for r in backlog)
    burst = [await mod_app.pipeline.handle(sent(f"question number {i} about the buds", "fan-burst", start + i))
             for i in range(10)]
    assert burst[-1].debug["signals"]["flood"] == 10 and burst[-1].debug["moderation"] == "mute"


def test_fancare_train_says_when_the_moderation_data_is_missing(tmp_path, store_url, nlu_model, capsys):
    """A config written elsewhere that still says `training_data/moderation` trained heads on 0 examples
    without a word; the heads then looked trained. It is said, naming the path and the key."""
    from bot.config import load_config
    from moderation.cli import train_moderation
    from tests.conftest import write_config

    cfg = load_config(write_config(tmp_path, store_url, tmp_path / "models"))
    cfg.moderation.training_data = str(tmp_path / "nowhere")
    train_moderation(cfg, nlu_model)
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "moderation.training_data" in err
