"""The brand's custom action for the warranty-claim example: plain Rasa SDK code, not fancare's.

Serve it with the Rasa SDK action server, from the repository root (so `examples.warranty` imports):

    python -m rasa_sdk --actions examples.warranty.actions          # listens on :5055, /webhook

and point fancare at it with `actions.url: http://localhost:5055/webhook` in config.yml. fancare sends
the same webhook call Rasa does, so this file would run unchanged behind a Rasa assistant.

`action_check_warranty` reads the slots the flow collected (`serial_number`, `purchase_date`) and sets
`claim_accepted` (a claim within two years of the purchase, or with an unknown purchase date, which a
person then checks) and `warranty_until`. A real brand would look the serial number up in its
warranty database here instead.
"""

from __future__ import annotations

import os
import re
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

WARRANTY_YEARS = 2
#: For tests and demos: pretend today is this ISO date (the conversation tests pin it, so they never expire).
TODAY_ENV = "WARRANTY_TODAY"


def today() -> date:
    pinned = os.environ.get(TODAY_ENV, "").strip()
    return date.fromisoformat(pinned) if pinned else date.today()


def parse_purchase_date(text: str | None) -> date | None:
    """'2026-03-14' or '14/03/2026' (day first) -> a date; None when missing or not a real date."""
    if not text:
        return None
    s = str(text).strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := re.fullmatch(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})", s):
            return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:  # 31/02/2026
        return None
    return None


def warranty_end(purchased: date, years: int = WARRANTY_YEARS) -> date:
    try:
        return purchased.replace(year=purchased.year + years)
    except ValueError:  # bought on 29 February
        return purchased.replace(year=purchased.year + years, day=28)


def check_warranty(purchase_date: str | None, on: date | None = None) -> tuple[bool, str | None]:
    """(claim accepted, warranty end as ISO date or None when the purchase date is unknown)."""
    purchased = parse_purchase_date(purchase_date)
    if purchased is None or purchased > (on or today()):
        return True, None  # unknown (or impossible) purchase date: accepted, a person checks the receipt
    end = warranty_end(purchased)
    return (on or today()) <= end, end.isoformat()


class ActionCheckWarranty(Action):
    """Accept a claim bought within two years (or with an unknown date); reject older ones."""

    def name(self) -> str:
        return "action_check_warranty"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: dict[str, Any]) -> list[dict[str, Any]]:
        accepted, until = check_warranty(tracker.get_slot("purchase_date"))
        return [SlotSet("claim_accepted", accepted), SlotSet("warranty_until", until)]
