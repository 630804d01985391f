"""Timers fire once when 3 processes run them against one PostgreSQL (issue 14, part 3).

Each worker process runs the real timer loops of `fancare run` at the same moment: the engagement
timer (opening, posting a native poll through the real `build_bot` to the fake Bot API, closing,
drawing), the Slack console's SLA round and outbox delivery (to the fake Slack Web API), and the
crisis alert guard (`alert_once`, as `App.watch_crisis` wires it) with each process's monitor
alerting the same episode a minute apart. Counted where the effects land: calls at the fakes, rows
of the engagement log and the outbox.

The workers build no `App`: an App loads the NLU model, and none of these timers reads it. The
console is given the two things its SLA round and outbox use, the real store and the real config.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import FancareConfig, SlackConfig, TelegramConfig
from bot.store import Store
from bot.store.models import Escalation, Message, utcnow
from bot.store.slack_models import SlackTicket
from tests.bot.processes import run_together
from tests.conftest import PG_URL, REPO
from tests.fakes.slack_fixtures import BOT_TOKEN, CARE, CRISIS, SIGNING_SECRET
from tests.fakes.slack_server import FakeSlack
from tests.fakes.telegram_server import TOKEN, FakeTelegram

WORKERS, RUN_S, TICK_S = 3, 9.0, 0.3
POLL_CHAT, GIVEAWAY_CHAT = "-100800", "-100900"


@dataclass
class Wiring:
    """What `SlackConsole` reads of an `App` in these loops: the store and the configuration."""

    cfg: FancareConfig
    store: Store


async def _no_dispatch() -> int:
    return 0  # the outbox keeps what the timers queued; counted there


async def _worker(url: str, tg_url: str, slack_url: str, worker: int, start_at: float) -> None:
    from bot.channels.slack import SlackConsole
    from bot.channels.telegram import build_bot
    from bot.channels.telegram_engagement import TelegramMembership, TelegramNativePolls
    from bot.ops.timer_claims import alert_once
    from dialogs.engagement import Engagement, EngagementTimer
    from moderation.crisis import Alert

    store = Store(url)
    cfg = FancareConfig()
    cfg.base_dir = REPO
    bot = build_bot(TelegramConfig(token=TOKEN, base_url=tg_url), store)
    slack_cfg = SlackConfig(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=slack_url,
                            default_channel=CARE, queue_channels={"crisis": CRISIS}, sla_check_s=TICK_S,
                            digest_hour_utc=None)
    console = SlackConsole(Wiring(cfg, store), slack_cfg, backoff_s=0.0)  # type: ignore[arg-type]
    timer = EngagementTimer(Engagement(store), _no_dispatch, native=TelegramNativePolls(bot),
                            member=TelegramMembership(bot))
    notify = alert_once(store, console.inbox.crisis_alert, 3600.0)
    minute = int(time.time() // 60)
    alert = Alert(key="brand", at_minute=minute + worker, window_minutes=10, observed=40, expected=4.0, z=9.0,
                  ratio=10.0, share_negative=0.6, baseline_share=0.1)
    stop = asyncio.Event()
    await asyncio.sleep(max(0.0, start_at - time.time()))  # all three start together
    async with bot:
        loops = [asyncio.create_task(timer.run(stop, TICK_S)), asyncio.create_task(console.run_sla(stop)),
                 asyncio.create_task(console.run_outbox(stop, TICK_S))]
        await notify(alert, [])
        await asyncio.sleep(RUN_S)
        stop.set()
        await asyncio.gather(*loops)
        await console.outbox.deliver()
    store.dispose()


def _seed(store: Store, start_at: float) -> dict[str, Any]:
    """A native poll closing 3 s after the workers start (posted first, then closed), a giveaway already
    past its close time (opened, closed and drawn in the first rounds), an escalation 30 min past its SLA."""
    from dialogs.engagement import Engagement

    now = utcnow()
    e = Engagement(store)
    poll = e.polls.create(question="Best colour?", options=["Volt", "Night"], chats=[POLL_CHAT], style="native",
                          closes_at=now + timedelta(seconds=start_at - time.time() + 3.0))
    g = e.giveaways.create(prize="Pulse 3", winners=1, opens_at=now - timedelta(hours=1),
                           closes_at=now + timedelta(seconds=2), announce=[GIVEAWAY_CHAT])
    for fan in range(5):
        assert e.giveaways.enter(g.id, "telegram", str(7100 + fan), now=now - timedelta(minutes=30)).status == "entered"
    rec = store.record_inbound(channel="telegram", external_id="1", chat_id="7001", user_id="7001",
                               text="I want a person")
    with store.session() as s:
        esc = Escalation(conversation_id=rec.conversation_id, queue="general", priority="normal",
                         created_at=now - timedelta(minutes=90))
        s.add(esc)
        s.flush()
        s.add(SlackTicket(escalation_id=esc.id, channel=CARE, ts="1.000001", created_at=now - timedelta(minutes=90)))
        esc_id = esc.id
    return {"poll": poll.id, "giveaway": g.id, "escalation": esc_id}


def _out_messages(store: Store, chat_id: str) -> int:
    from bot.store.models import Conversation

    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(Message).join(
            Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.chat_id == chat_id, Message.direction == "out")) or 0)


def test_a_native_poll_posted_while_another_process_closed_it_is_stopped_once(tmp_path: Path) -> None:
    from dialogs.polls import Polls

    store = Store(f"sqlite:///{tmp_path / 'fancare.db'}")
    store.migrate()
    polls = Polls(store)
    poll = polls.create(question="Best colour?", options=["Volt", "Night"], chats=[POLL_CHAT], style="native",
                        closes_at=utcnow() + timedelta(hours=1))
    polls.open_due()
    assert polls.claim_post(poll.id, POLL_CHAT)  # process A: sendPoll in flight ...
    assert polls.close_now(poll.id) == (poll.id, [])  # ... process B closes: nothing to stop yet
    polls.record_post(poll.id, POLL_CHAT, "5000000001", "77")  # A's post lands
    late = polls.close_due()
    assert [(pid, [p.message_id for p in posts]) for pid, posts in late] == [(poll.id, ["77"])]
    assert polls.close_due() == []  # stopped once
    store.dispose()


@pytest.mark.postgres
async def test_three_processes_fire_each_timer_once(telegram_server: FakeTelegram, slack_fake: FakeSlack) -> None:
    if not PG_URL:
        pytest.skip("FANCARE_TEST_POSTGRES_URL not set (run through scripts/with-postgres.sh)")
    from bot.store.engagement_models import EngagementLog

    store = Store(PG_URL)
    store.drop_all()
    store.migrate()
    start_at = time.time() + 8.0  # after every worker has imported and connected
    ids = _seed(store, start_at)
    await run_together("tests.bot.test_timers_once", [
        [PG_URL, telegram_server.base_url, slack_fake.url, str(w), str(start_at)] for w in range(WORKERS)], 240)

    with store.session() as s:
        kinds = list(s.scalars(select(EngagementLog.kind)))
        ticket = s.get(SlackTicket, ids["escalation"])
        assert ticket is not None and ticket.sla_reposts == 1
    for kind in ("poll.opened", "poll.closed", "giveaway.opened", "giveaway.closed", "giveaway.drawn"):
        assert kinds.count(kind) == 1, (kind, kinds)
    # the native poll: posted once, stopped once, its results queued once
    assert len(telegram_server.calls_of("sendPoll")) == 1
    assert len(telegram_server.calls_of("stopPoll")) == 1
    assert _out_messages(store, POLL_CHAT) == 1
    # the giveaway: opening announcement and draw results in the group, one winner's notice
    assert _out_messages(store, GIVEAWAY_CHAT) == 2
    assert sum(_out_messages(store, str(7100 + fan)) for fan in range(5)) == 1
    # Slack: one SLA reminder for the escalation, one crisis alert though each process alerted
    sla = [p for p in slack_fake.posts(CARE) if f"SLA: escalation #{ids['escalation']}" in p.get("text", "")]
    alerts = [p for p in slack_fake.posts(CRISIS) if "Crisis warning" in p.get("text", "")]
    assert len(sla) == 1 and len(alerts) == 1, ([p.get("text") for p in slack_fake.posts()])
    store.drop_all()
    store.dispose()


if __name__ == "__main__":  # one worker process of the test above
    asyncio.run(_worker(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
