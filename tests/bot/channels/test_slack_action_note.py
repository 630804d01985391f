"""A custom action that fails mid-flow: the fan gets the apology, the team gets a note in Slack
(the general queue's channel, top level, through the outbox), end to end against the fake Slack."""

from __future__ import annotations

from tests.fakes.recording_channel import fan_message
from tests.fakes.slack_fixtures import CARE, CRISIS


class BrokenShop:
    def get(self, order_number: str) -> None:
        raise ConnectionError("shop API down")


async def test_failed_action_is_noted_in_the_general_channel(slack):
    from dialogs.builtin_actions import builtin_actions

    builtin_actions(slack.app.actions, orders=BrokenShop(), kb=slack.app.kb)  # the flow's order lookup now fails
    assert slack.app.pipeline.operators is slack.console.inbox
    before = len(slack.fake.posts())

    await slack.app.pipeline.handle(fan_message("where is my order VT-482913?", user="u1"))
    await slack.settle()

    assert "something went wrong" in slack.fan.texts()[-1]
    new = slack.fake.posts()[before:]
    notes = [p for p in new if "action_lookup_order" in str(p.get("text"))]
    assert len(notes) == 1, new
    note = notes[0]
    assert note["channel"] == CARE  # `general` has no channel of its own: the default one
    assert note["text"].startswith(":warning: custom action ")
    assert "ConnectionError" in note["text"] and "flow order_status" in note["text"]
    assert "thread_ts" not in note and "blocks" not in note
    assert not slack.fake.posts(channel=CRISIS)


async def test_note_text_is_escaped(slack):
    await slack.console.inbox.note("action failed: <!channel> & <https://evil.example|bank>")
    await slack.settle()
    post = slack.fake.posts(channel=CARE)[-1]
    assert post["text"] == ":warning: action failed: &lt;!channel&gt; &amp; &lt;https://evil.example|bank&gt;"
    assert "thread_ts" not in post
