"""A giveaway end to end: created from Slack (a non-operator is refused), announced in the Telegram
group with its commitment, fans enter by button, keyword, intent (twice: "already in") and a comment
under the channel's post, a fan who
left the group is skipped at the draw (getChatMember), winners are notified privately, the seed is
revealed in the group, and the draw is verified from Slack and from the CLI with the published file."""

from __future__ import annotations

import asyncio
import json
import logging

from bot.channels.slack import REFUSAL
from bot.cli import main
from dialogs import draw as drawing
from tests.fakes.telegram_server import CHANNEL_BOT_ID, message, user

GROUP = -100555
ANA, BEN, CAL, DEV, EVE = 4001, 4002, 4003, 4004, 4005
CHANNEL = {"id": -1009999, "type": "channel", "title": "Voltora News"}


async def test_giveaway_from_slack_entries_on_telegram_draw_and_verify(live, tmp_path, capsys):
    h, sh = await live()
    fake = h.fake
    fake.non_members.add(DEV)  # DEV enters, then leaves the group before the draw
    create = (f'giveaway create --prize "Pulse 3 watch" --winners 5 --keyword "#win" --member-of {GROUP} '
              f'--announce {GROUP} --closes 1h --post={CHANNEL["id"]}:77')
    assert await sh.command(create, "UNOBODY") == REFUSAL
    answer = await sh.command(create, "UOP1")
    assert "Giveaway #1 created" in answer
    commitment = answer.rsplit(": ", 1)[1]
    await fake.wait_for(lambda: any(commitment in t for t in fake.texts(GROUP)))
    post = next(p for p in fake.sent(GROUP) if commitment in p["text"])
    enter = post["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    bot_msg = {"message_id": 1, "date": 0, "chat": {"id": GROUP, "type": "supergroup", "title": "fans"},
               "text": post["text"], "from": fake.me}
    fake.push({"callback_query": {"id": "cq-a", "from": user(ANA, "Ana"), "chat_instance": "x", "data": enter,
                                  "message": bot_msg}})
    fake.push({"message": message(fake, GROUP, "#win", from_user=user(BEN, "Ben"))})  # keyword, unaddressed
    fake.push({"message": message(fake, CAL, "count me in for the giveaway", from_user=user(CAL, "Cal"))})
    fake.push({"message": message(fake, DEV, "enter the giveaway", from_user=user(DEV, "Dev"))})
    await h.until_handled(4, timeout=30)
    fake.push({"message": message(fake, CAL, "enter the giveaway", from_user=user(CAL, "Cal"))})
    await h.until_handled(5, timeout=30)
    # a comment under the channel's giveaway post (in the linked discussion group) enters too
    post = message(fake, GROUP, "Win a Pulse 3!", from_user={"id": CHANNEL_BOT_ID, "is_bot": True,
                   "first_name": "Channel"}, sender_chat=CHANNEL, is_automatic_forward=True,
                   forward_origin={"type": "channel", "chat": CHANNEL, "message_id": 77, "date": 0})
    fake.push({"message": post})
    fake.push({"message": message(fake, GROUP, "love it, fingers crossed", from_user=user(EVE, "Eve"),
                                  reply_to=post, thread_id=post["message_id"])})
    await h.until_handled(6, timeout=30)
    assert any("You're in" in t for t in fake.texts(GROUP))  # the button press is answered in the group
    assert "You're in" in fake.texts(CAL)[0] and "already in" in fake.texts(CAL)[1]
    assert h.app.engagement.giveaways.entry_count(1) == 5

    closed = await sh.command("giveaway close 1", "UOP2")
    assert closed.startswith("Closed")
    await fake.wait_for(lambda: any("the draw is done" in t for t in fake.texts(GROUP)))
    pub = h.app.engagement.giveaways.published(1)
    assert pub["excluded"] == {f"telegram:{DEV}": "not a member at draw time"}
    assert sorted(pub["winners"]) == sorted(f"telegram:{u}" for u in (ANA, BEN, CAL, EVE))
    await fake.wait_for(lambda: all(any("You won" in t for t in fake.texts(u)) for u in (ANA, BEN, CAL, EVE)))
    assert not any("You won" in t for t in fake.texts(DEV))
    announcement = next(t for t in fake.texts(GROUP) if "the draw is done" in t)
    assert pub["seed"] in announcement and drawing.commitment(pub["seed"]) == commitment

    assert (await sh.command("giveaway verify 1", "UOP1")).startswith("OK: the draw checks out")
    assert "```" in await sh.command("giveaway publish 1", "UOP1")
    # anyone with the published file, through the CLI
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(pub))
    cfg = str(tmp_path / "config.yml")

    async def cli(*argv: str) -> int:  # `fancare ...` in its own thread (it runs its own event loop)
        return await asyncio.to_thread(main, [*argv, "--config", cfg])

    try:
        assert await cli("giveaway", "verify", str(path)) == 0
        assert "OK" in capsys.readouterr().out
        path.write_text(json.dumps(dict(pub, seed="00" * 32)))
        assert await cli("giveaway", "verify", str(path)) == 1
        assert "does not match the commitment" in capsys.readouterr().out
        assert await cli("giveaway", "audit") == 0
        assert "hash chain intact" in capsys.readouterr().out
        assert await cli("giveaway", "export", "1") == 0
        assert capsys.readouterr().out.count("telegram:") == 5
    finally:  # the CLI installed a log handler on the captured stderr
        for handler in [x for x in logging.getLogger().handlers if getattr(x, "_fancare", False)]:
            logging.getLogger().removeHandler(handler)
