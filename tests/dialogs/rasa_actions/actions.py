"""A brand's Rasa custom actions, unchanged: what `RasaActionServer` must run over the webhook.

Only imported by the `rasa_sdk` server process the tests start (never by pytest itself), so fancare does
not need `rasa_sdk` to collect its tests. `tests/dialogs/test_actions.py` has a stand-in server with the
same actions for when `rasa_sdk` is not installed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection


class ActionCheckWarranty(Action):
    """Accept a claim when there is a serial number; reply with a domain response and a text with buttons."""

    def name(self) -> str:
        return "action_check_warranty"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        serial = tracker.get_slot("serial_number")
        purchased = tracker.get_slot("purchase_date")
        if not serial:
            dispatcher.utter_message(text="I need the serial number to check the warranty.")
            return [SlotSet("claim_accepted", False)]
        dispatcher.utter_message(response="utter_warranty_registered", serial=serial, purchased=purchased or "")
        dispatcher.utter_message(text="Anything else about this device?",
                                 buttons=[{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}])
        return [SlotSet("claim_accepted", True), SlotSet("warranty_until", "2028-03-01")]


class ActionEchoTracker(Action):
    """Report what the action server understood of the request (tracker and domain) as slots."""

    def name(self) -> str:
        return "action_echo_tracker"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            SlotSet("seen_sender", tracker.sender_id),
            SlotSet("seen_text", tracker.latest_message.get("text")),
            SlotSet("seen_intent", tracker.get_intent_of_latest_message()),
            SlotSet("seen_order_numbers", list(tracker.get_latest_entity_values("order_number"))),
            SlotSet("seen_slot", tracker.get_slot("order_number")),
            SlotSet("seen_responses", sorted(domain.get("responses", {}))),
            SlotSet("seen_slot_names", sorted(domain.get("slots", {}))),
        ]


class ActionRichMessages(Action):
    """Messages a chat channel cannot show as such: an image, custom JSON."""

    def name(self) -> str:
        return "action_rich_messages"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        dispatcher.utter_message(image="https://example.invalid/receipt.png")
        dispatcher.utter_message(json_message={"carousel": [1, 2]})
        dispatcher.utter_message(text="Here is your receipt.", image="https://example.invalid/receipt.png")
        return []


class ActionExplode(Action):
    def name(self) -> str:
        return "action_explode"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        raise ValueError("warranty database is down")


class ActionSleepy(Action):
    def name(self) -> str:
        return "action_sleepy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        await asyncio.sleep(10)
        return []


class ActionReject(Action):
    def name(self) -> str:
        return "action_reject"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        raise ActionExecutionRejection("action_reject", "this model has no warranty")
