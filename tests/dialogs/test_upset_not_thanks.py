"""A fan who says they are upset is not thanking us (dialogs/policy.py SARCASTIC, dialogs/arbitration.py
`upset`): "thanks for the worst service ever" or "jestem bardzo rozczarowany waszą obsługą" read as
thanks got "You're welcome!"; they now get the complaint, in every language. A denied word ("no
complaints", "not disappointed at all") is no upset."""

from __future__ import annotations

import pytest

from dialogs.arbitration import upset
from tests.dialogs.test_engine import Chat, demo_policy, events, names


@pytest.mark.parametrize("text, intent", [
    ("thanks for nothing, worst service ever", "thanks"),
    ("jestem bardzo rozczarowany waszą obsługą", "thanks"),
    ("شكرًا على أسوأ خدمة في التاريخ", "thanks"),
    ("bravo, la pire livraison de ma vie", "praise"),
    ("bye, I'm done with this useless support", "goodbye"),
])
async def test_an_upset_fan_read_as_thanks_gets_the_complaint(text: str, intent: str) -> None:
    d = await Chat(demo_policy()).say(text, intent, confidence=0.87)
    assert f"nlu.upset_not_{intent}" in events(d)
    assert names(d)[0] in ("utter_ask_complaint_details", "utter_complaint_escalated")


@pytest.mark.parametrize("text, intent", [
    ("thanks, no complaints here!", "thanks"),
    ("not disappointed at all, love it", "praise"),
    ("nie jestem rozczarowany, dzięki", "thanks"),
    ("thanks a lot, bye", "goodbye"),
])
async def test_denied_or_plain_thanks_are_thanks(text: str, intent: str) -> None:
    d = await Chat(demo_policy()).say(text, intent, confidence=0.87)
    assert names(d) == [{"thanks": "utter_thanks", "praise": "utter_praise", "goodbye": "utter_goodbye"}[intent]]


def test_upset_words_and_their_denial() -> None:
    assert upset("I'm not happy") and upset("en kötü hizmet") and upset("sabse ghatiya service")
    assert not upset("no complaints") and not upset("merci, rien à redire")
