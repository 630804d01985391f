"""Polls below the channels: matching text votes, one vote per fan (store-enforced), changing
votes, multiple choice, anonymous polls, scheduled close across a restart, and the conversation
path through the real pipeline (NLU -> engagement hook -> outbox) on the recording channel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot.store import Store
from bot.store.engagement_models import PollVote
from bot.store.models import utcnow
from dialogs.engagement_log import verify_chain
from dialogs.polls import Polls, match_option, vote_payload
from tests.fakes.recording_channel import RecordingChannel, fan_message

COLOURS = ["Midnight blue", "Sky blue", "Forest green", "Matte black"]


@pytest.mark.parametrize(("text", "index"), [
    ("option 2", 1), ("2", 1), ("B", 1), ("i choose option c", 2), ("the second one", 1), ("third", 2),
    ("the last option", 3), ("definitely the black one", 3), ("team green 💚", 2), ("Sky blue", 1),
    ("midnight blue gets my vote", 0), ("vote 4", 3),
])
def test_text_votes_map_to_one_option(text, index):
    assert match_option(text, COLOURS).index == index


def test_ambiguous_or_unknown_text_is_never_guessed():
    m = match_option("the blue one", COLOURS)
    assert m.index is None and m.candidates == (0, 1)
    m = match_option("whatever you think", COLOURS)
    assert m.index is None and m.candidates == (0, 1, 2, 3)


def test_one_vote_per_fan_changes_multiple_and_anonymous(store):
    polls = Polls(store)
    p = polls.create(question="Next colour?", options=COLOURS, channel="test", chats=["g"], style="buttons")
    polls.open_due()
    assert polls.vote(p.id, "test", "u1", [0]).status == "recorded"
    assert polls.vote(p.id, "test", "u1", [0]).status == "unchanged"
    assert polls.vote(p.id, "test", "u1", [2]).status == "changed"
    assert polls.vote(p.id, "test", "u2", [2]).status == "recorded"
    assert polls.results(p.id).counts == [0, 0, 2, 0]
    with pytest.raises(IntegrityError), store.session() as s:  # the store refuses a second row
        s.add(PollVote(poll_id=p.id, voter="test:u1", options=[1]))

    locked = polls.create(question="Final?", options=["Yes", "No"], channel="test", changeable=False)
    multi = polls.create(question="Which ones?", options=COLOURS, channel="test", multiple=True)
    anon = polls.create(question="Secret?", options=["Yes", "No"], channel="test", anonymous=True)
    polls.open_due()
    assert polls.vote(locked.id, "test", "u1", [0]).status == "recorded"
    assert polls.vote(locked.id, "test", "u1", [1]).status == "locked"
    assert polls.vote(multi.id, "test", "u1", [0], mode="toggle").options == (0,)
    assert polls.vote(multi.id, "test", "u1", [3], mode="add").options == (0, 3)
    assert polls.vote(multi.id, "test", "u1", [0], mode="toggle").options == (3,)
    assert polls.vote(anon.id, "test", "u1", [1]).status == "recorded"
    assert polls.vote(anon.id, "test", "u1", [1]).status == "unchanged"  # still one vote per fan
    res = polls.results(anon.id, voters=True)
    assert res.counts == [0, 1] and res.by_voter == {}
    with store.session() as s:
        assert all(v.voter.startswith("anon:") and "u1" not in v.voter
                   for v in s.query(PollVote).filter(PollVote.poll_id == anon.id))
    assert polls.results(p.id, voters=True).by_voter == {"test:u1": [2], "test:u2": [2]}


def test_scheduled_close_survives_a_restart(store_url, store):
    polls = Polls(store)
    p = polls.create(question="Q?", options=["A", "B"], channel="test", chats=["g"], style="buttons",
                     closes_at=utcnow() + timedelta(minutes=10))
    polls.open_due()
    polls.vote(p.id, "test", "u1", [1])
    store.dispose()
    later = utcnow() + timedelta(minutes=11)
    store2 = Store(store_url)
    p2 = Polls(store2)
    assert p2.vote(p.id, "test", "u2", [0], now=later).status == "closed"  # past the close time: refused
    assert [pid for pid, _ in p2.close_due(later)] == [p.id]
    assert p2.close_due(later) == []
    assert p2.results(p.id).counts == [0, 1] and p2.get(p.id).status == "closed"  # type: ignore[union-attr]
    assert verify_chain(store2).ok
    store2.dispose()


async def test_fan_votes_by_text_buttons_and_confirms_ambiguity(app):
    fan = RecordingChannel()
    app.pipeline.add_channel(fan)
    await app.pipeline.handle(fan_message("i vote for option 2", user="u1"))
    assert "no poll open" in fan.texts()[-1]  # nothing open: the policy's answer, as before
    p = app.engagement.polls.create(question="Next strap colour?", options=COLOURS, channel="test",
                                    chats=["chat-u1", "chat-u2"], style="buttons")
    app.engagement.polls.open_due()
    await app.pipeline.dispatch()
    posted = [s for s in fan.sent if s.message.buttons]
    assert {s.chat_id for s in posted} == {"chat-u1", "chat-u2"}
    assert [b.payload for b in posted[0].message.buttons][1] == vote_payload(p.id, 1)

    await app.pipeline.handle(fan_message("i vote for option 2", user="u1"))
    assert "Sky blue" in fan.texts()[-1] and "is in" in fan.texts()[-1]
    await app.pipeline.handle(fan_message("the blue one", user="u2"))
    ask = fan.sent[-1].message
    assert "Which one do you mean" in ask.text and [b.title for b in ask.buttons] == ["Midnight blue", "Sky blue"]
    assert app.engagement.polls.results(p.id).voters == 1  # nothing recorded on a guess
    await app.pipeline.handle(fan_message(ask.buttons[0].payload, user="u2", button=True))  # the fan taps to confirm
    assert "Midnight blue" in fan.texts()[-1]
    await app.pipeline.handle(fan_message("definitely the black one", user="u1"))  # changes their mind
    assert "Changed" in fan.texts()[-1] and "Matte black" in fan.texts()[-1]
    assert app.engagement.polls.results(p.id).counts == [1, 0, 0, 1]


def test_cli_poll_from_yaml_results_and_close(config_path, tmp_path, capsys):
    import logging

    from bot.cli import main

    spec = tmp_path / "poll.yml"
    spec.write_text("question: Which launch colour?\noptions: [Midnight blue, Sky blue]\nmultiple: true\n"
                    "chats: ['-100999']\nchannel: test\nbuttons: true\ncloses: 2h\n")
    try:
        assert main(["poll", "create", "--file", str(spec), "--config", str(config_path)]) == 0
        assert "Poll #1 created (buttons" in capsys.readouterr().out
        assert main(["poll", "create", "--question", "Q?", "--option", "only one", "--config", str(config_path)]) == 2
        assert "2 to 10 options" in capsys.readouterr().err
        assert main(["poll", "list", "--config", str(config_path)]) == 0
        assert "#1 [scheduled] Which launch colour?" in capsys.readouterr().out
        assert main(["poll", "close", "1", "--config", str(config_path)]) == 0
        assert "Poll #1 (closed)" in capsys.readouterr().out
        assert main(["poll", "results", "1", "--config", str(config_path)]) == 0
        assert "0 voter(s)" in capsys.readouterr().out
    finally:
        for handler in [x for x in logging.getLogger().handlers if getattr(x, "_fancare", False)]:
            logging.getLogger().removeHandler(handler)
