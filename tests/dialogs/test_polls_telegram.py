"""Polls end to end: created from Slack by an operator (a non-operator is refused), posted to
Telegram as a native poll (sendPoll) and as inline buttons, votes by poll_answer updates, buttons and
text, a changed vote, results in Slack, and the scheduled close (stopPoll, results in the group)
carried out by a restarted process."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from sqlalchemy import text

from bot.channels.slack import REFUSAL
from bot.store.models import utcnow
from tests.fakes.slack_fixtures import CARE, signed_headers
from tests.fakes.telegram_server import message, poll_answer, user

GROUP = -100123
ANA, BEN, CAL, DEV = 3001, 3002, 3003, 3004


async def test_poll_from_slack_native_buttons_text_and_close_after_restart(live):
    h, sh = await live()
    fake = h.fake
    create = ('poll create --question "Next strap colour?" --option "Midnight blue" --option "Sky blue" '
              f'--option "Forest green" --chat {GROUP} --closes 2h')
    assert await sh.command(create, "UOUTSIDER") == REFUSAL  # not an operator: refused, nothing created
    assert h.app.engagement.polls.recent() == []
    answer = await sh.command(create, "UOP1")
    assert answer.startswith("Poll #1 created (native")
    await fake.wait_for(lambda: len(fake.calls_of("sendPoll")) == 1)
    sent = fake.calls_of("sendPoll")[0].params
    assert int(sent["chat_id"]) == GROUP and sent["question"] == "Next strap colour?"
    native_id = next(iter(fake.polls))

    # native votes: one per fan, a fan changes theirs, an unknown poll is ignored
    fake.push(poll_answer(native_id, user(ANA, "Ana"), [0]))
    fake.push(poll_answer(native_id, user(BEN, "Ben"), [1]))
    fake.push(poll_answer(native_id, user(ANA, "Ana"), [2]))
    fake.push(poll_answer("999", user(CAL, "Cal"), [0]))
    polls = h.app.engagement.polls
    await fake.wait_for(lambda: polls.results(1).counts == [0, 1, 1])

    # a buttons poll in a private chat (where a native poll is not wanted): a button press and a text vote
    assert "created (buttons" in await sh.command(
        f"poll create --question Strap? --option Red --option Black --buttons --chat {CAL} --chat {DEV}", "UOP2")
    await fake.wait_for(lambda: any(p.get("reply_markup") for p in fake.sent(CAL)))
    card = next(p for p in fake.sent(CAL) if p.get("reply_markup"))
    keys = card["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keys] == ["Red", "Black"]
    bot_msg = {"message_id": 1, "date": 0, "chat": {"id": CAL, "type": "private"}, "text": card["text"],
               "from": fake.me}
    fake.push({"callback_query": {"id": "cq-vote", "from": user(CAL, "Cal"), "chat_instance": "x",
                                  "data": keys[1][0]["callback_data"], "message": bot_msg}})
    await fake.wait_for(lambda: any("Black is in" in t for t in fake.texts(CAL)))
    fake.push({"message": message(fake, DEV, "i vote for option 1", from_user=user(DEV, "Dev"))})
    await fake.wait_for(lambda: any("Red is in" in t for t in fake.texts(DEV)))
    assert polls.results(2).counts == [1, 1]

    results = await sh.command("poll results 1", "UOP1")
    assert "Sky blue: 1 (50%)" in results and "Forest green: 1 (50%)" in results and "2 voter(s)" in results

    # the process stops; the close time passes while it is down; a new process closes the poll at start
    with h.app.store.session() as s:
        s.execute(text("UPDATE polls SET closes_at = :t WHERE id = 1"), {"t": utcnow()})
    h, sh = await live()
    await fake.wait_for(lambda: len(fake.calls_of("stopPoll")) == 1)
    assert int(fake.calls_of("stopPoll")[0].params["chat_id"]) == GROUP
    await fake.wait_for(lambda: any("Poll #1 (closed)" in t for t in fake.texts(GROUP)))
    assert h.app.engagement.polls.get(1).status == "closed"  # type: ignore[union-attr]
    assert h.app.engagement.polls.get(2).status == "open"  # type: ignore[union-attr]
    fake.push(poll_answer(native_id, user(BEN, "Ben"), [0]))  # too late: not counted
    fake.push({"message": message(fake, ANA, "hi", from_user=user(ANA, "Ana"))})
    await fake.wait_for(lambda: len(fake.texts(ANA)) >= 1)
    assert h.app.engagement.polls.results(1).counts == [0, 1, 1]


async def _submit(sh, user_id: str, values: dict[str, str], flags: list[str]) -> tuple[int, str]:
    """Post a signed view_submission, as Slack does when the operator presses "Create"."""
    state = {k: {"value": {"type": "plain_text_input", "value": v}} for k, v in values.items()}
    state["flags"] = {"value": {"type": "checkboxes", "selected_options": [{"value": f} for f in flags]}}
    payload = {"type": "view_submission", "team": {"id": "T0001"}, "user": {"id": user_id, "team_id": "T0001"},
               "api_app_id": "A0001", "token": "legacy", "trigger_id": "trig-v",
               "view": {"id": "V1", "type": "modal", "callback_id": "fancare_poll_create",
                        "private_metadata": CARE, "state": {"values": state}}}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    status, out = await sh.post(body, signed_headers(body, content_type="application/x-www-form-urlencoded"))
    return status, out


async def test_poll_created_with_the_slack_modal_multiple_choice_native(live):
    h, sh = await live()
    fake = h.fake
    assert await sh.command("poll create", "UOP1") == ""  # no arguments: the form opens
    view = sh.fake.called("views.open")[-1]["view"]
    assert view["callback_id"] == "fancare_poll_create" and view["private_metadata"] == CARE
    values = {"question": "Which launch events?", "options": "Berlin\nLisbon\nOnline", "chats": str(GROUP),
              "closes": "1h"}
    status, out = await _submit(sh, "UOUTSIDER", values, ["multiple"])
    assert status == 200 and "only fancare operators" in out and h.app.engagement.polls.recent() == []
    status, out = await _submit(sh, "UOP1", dict(values, options="only one"), ["multiple"])
    assert "2 to 10 options" in out
    status, _ = await _submit(sh, "UOP1", values, ["multiple", "locked"])
    assert status == 200
    await fake.wait_for(lambda: len(fake.calls_of("sendPoll")) == 1)
    sent = fake.calls_of("sendPoll")[0].params
    assert str(sent["allows_multiple_answers"]).lower() == "true" and str(sent["allows_revoting"]).lower() == "false"
    native_id = next(iter(fake.polls))
    fake.push(poll_answer(native_id, user(ANA, "Ana"), [0, 2]))
    fake.push(poll_answer(native_id, user(BEN, "Ben"), [2]))
    fake.push(poll_answer(native_id, user(BEN, "Ben"), [1]))  # locked: the first vote stands
    await fake.wait_for(lambda: h.app.engagement.polls.results(1).voters == 2)
    await fake.wait_for(lambda: h.app.pipeline.metrics["poll_answer_locked"] == 1)
    assert h.app.engagement.polls.results(1).counts == [1, 0, 2]
