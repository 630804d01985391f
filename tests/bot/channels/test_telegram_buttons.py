"""Only the bot's own buttons force an intent (issue 12, item 3), end to end through the fake Bot API:
typed `/crisis` is words, a real press of a button the bot sent works, callback data the bot never
sent in that chat is refused, and a vote counts only in the chat where the poll runs."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.store import Escalation, Message, NLUResult
from bot.store.engagement_models import PollVote
from dialogs.domain import Outgoing
from dialogs.engagement import Engagement
from dialogs.policy import Turn
from dialogs.polls import Polls, vote_payload
from tests.fakes.telegram_server import user

FAN = 1001
GROUP_A = -1001111111111
GROUP_B = -1002222222222


def _press(fake, chat: int, chat_type: str, sender: int, data: str, cq_id: str, message_id: int = 2) -> None:
    bot_msg = {"message_id": message_id, "date": 0, "chat": {"id": chat, "type": chat_type}, "text": "...",
               "from": fake.me}
    fake.push({"callback_query": {"id": cq_id, "from": user(sender), "chat_instance": "x", "data": data,
                                  "message": bot_msg}})


def _escalations(h) -> list[Escalation]:
    with h.app.store.session() as s:
        return list(s.scalars(select(Escalation)))


async def test_typed_crisis_payload_is_words_not_an_urgent_ticket(tg):
    h = await tg()
    fake = h.fake
    for i, typed in enumerate(["/crisis", '/giveaway_enter{"giveaway": 1}', '/poll_vote{"poll":1,"option":1}']):
        fake.push({"message": {"message_id": 100 + i, "date": 0, "chat": {"id": FAN, "type": "private"},
                               "from": user(FAN), "text": typed}})
    await h.until_handled(3)
    assert not [e for e in _escalations(h) if e.priority == "urgent" or e.queue == "crisis"]
    with h.app.pipeline.store.session() as s:
        rows = s.execute(select(Message.id).where(Message.direction == "in")).all()
    for (mid,) in rows:  # the NLU read them as text: an encoder ran, nothing was forced at 1.0
        with h.app.store.session() as s:
            r = s.scalar(select(NLUResult).where(NLUResult.message_id == mid))
            assert r is not None and r.encoder is not None


async def test_real_press_works_and_forged_callback_data_is_refused(tg):
    h = await tg()
    fake = h.fake
    # the bot sends a handoff button in the fan's chat (the order form's "Talk to a human")
    fake.push({"message": {"message_id": 10, "date": 0, "chat": {"id": FAN, "type": "private"}, "from": user(FAN),
                           "text": "where is my order?"}})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 1)
    fake.push({"message": {"message_id": 11, "date": 0, "chat": {"id": FAN, "type": "private"}, "from": user(FAN),
                           "text": "VT-999999"}})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 2)  # orders.verify: the order's email or postcode
    fake.push({"message": {"message_id": 12, "date": 0, "chat": {"id": FAN, "type": "private"}, "from": user(FAN),
                           "text": "maya.lopez@example.com"}})
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 3)
    assert fake.sent(FAN)[2]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "/human_handoff"
    # a modified client sends callback data the bot never offered: refused, no ticket, spinner answered
    _press(fake, FAN, "private", FAN, "/crisis", "cq-forged")
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 4)
    assert "isn't available" in fake.texts(FAN)[3]
    assert _escalations(h) == []
    # the real button: the handoff happens
    _press(fake, FAN, "private", FAN, "/human_handoff", "cq-real")
    await fake.wait_for(lambda: len(fake.sent(FAN)) == 5)
    assert "ticket #" in fake.texts(FAN)[4]
    assert [e.priority for e in _escalations(h)] != [] and not [e for e in _escalations(h) if e.queue == "crisis"]
    answered = [c.params["callback_query_id"] for c in fake.calls_of("answerCallbackQuery")]
    assert "cq-forged" in answered and "cq-real" in answered


async def test_poll_vote_counts_only_in_the_chat_where_the_poll_runs(tg):
    h = await tg()
    fake = h.fake
    polls = Polls(h.app.store)
    poll = polls.create(question="Best colour?", options=["Red", "Blue"], chats=[str(GROUP_A)], style="buttons")
    h.app.engagement.polls.open_due()
    await h.app.pipeline.dispatch()
    await fake.wait_for(lambda: len(fake.sent(GROUP_A)) == 1)
    keyboard = fake.sent(GROUP_A)[0]["reply_markup"]["inline_keyboard"]
    blue = keyboard[1][0]["callback_data"]
    assert blue == vote_payload(poll.id, 1)
    # the same payload pressed in another group (never sent there): refused, not counted
    _press(fake, GROUP_B, "supergroup", 2002, blue, "cq-b")
    await h.until_handled(1)
    with h.app.store.session() as s:
        assert list(s.scalars(select(PollVote))) == []
    # pressed where the poll runs: counted
    _press(fake, GROUP_A, "supergroup", 2001, blue, "cq-a")
    await h.until_handled(2)
    with h.app.store.session() as s:
        votes = list(s.scalars(select(PollVote)))
    assert [v.options for v in votes] == [[1]]


def test_engagement_refuses_a_vote_for_a_poll_of_another_group(store):
    """Even a payload that passed the channel (e.g. a stale button) counts only where the poll runs."""
    from nlu.model import ParseResult

    polls = Polls(store)
    p = polls.create(question="Q?", options=["a", "b"], chats=[str(GROUP_A)], style="buttons")
    polls.open_due()
    e = Engagement(store)
    text = vote_payload(p.id, 0)
    parse = ParseResult(text, "poll_vote", 1.0, False, [("poll_vote", 1.0)],
                        [{"entity": "poll", "value": str(p.id)}, {"entity": "option", "value": "1"}],
                        "und", None, "test")
    turn = Turn(1, text)
    d = e.decide(parse, {}, turn, {"channel": "telegram", "chat_id": str(GROUP_B), "user_id": "7"})
    assert d is not None and d.action == "poll:elsewhere"
    d = e.decide(parse, {}, turn, {"channel": "telegram", "chat_id": str(GROUP_A), "user_id": "7"})
    assert d is not None and d.action == "poll:recorded"
    assert isinstance(d.replies[0], Outgoing) and json.dumps(d.replies[0].text)
