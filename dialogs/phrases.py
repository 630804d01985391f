"""The English words fancare's own code fills into responses, by key.

Responses live in the domain, but some text reaching a fan is built in Python: a wait estimate
("about 12 minutes"), when the team is back ("tomorrow at 09:00"), an order's status word and the
delivery line, the "Help with my order" button. Each such piece is a phrase here, so a language can
translate it (`dialogs/translations/phrases.yml`, or `phrases:` in a `<lang>.yml`); the English text
is the fallback of last resort and the reference the translations' `{placeholders}` are checked against.

A phrase key `<slot>.<value>` (e.g. `order_status.shipped`) translates a slot *value* where a
response fills `{<slot>}`: the slot keeps its raw value for flow conditions, the fan reads the word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dialogs import plural

#: key -> English text; `{name}` placeholders are filled by the code that uses the phrase.
PHRASES: dict[str, str] = {
    # dialogs/waiting.py: the wait estimate in utter_queue_position's {estimate}
    "wait.couple_of_minutes": "a couple of minutes",
    "wait.minutes": "about {minutes} minutes",
    "wait.an_hour": "about an hour",
    "wait.hours": "about {hours} hours",
    # utter_queue_position's {place}
    "queue.first": "first",
    "queue.number": "number {position}",
    # utter_out_of_hours's {opening} and {timezone}
    "opening.today": "today at {time}",
    "opening.tomorrow": "tomorrow at {time}",
    "opening.weekday": "{day} at {time}",
    "opening.asap": "as soon as possible",
    "timezone.city": "{city} time",
    "day.monday": "Monday",
    "day.tuesday": "Tuesday",
    "day.wednesday": "Wednesday",
    "day.thursday": "Thursday",
    "day.friday": "Friday",
    "day.saturday": "Saturday",
    "day.sunday": "Sunday",
    # dialogs/builtin_actions.py: the {eta_text} of utter_order_status
    "order.eta": "Expected delivery: {eta}.",
    # order status values (bot/orders.py) as they read inside utter_order_status's {order_status}
    "order_status.processing": "processing",
    "order_status.shipped": "shipped",
    "order_status.out for delivery": "out for delivery",
    "order_status.delivered": "delivered",
    "order_status.cancelled": "cancelled",
    # dialogs/policy.py: buttons built around a flow's name
    "button.yes_flow": "Yes, {flow}",
    "button.help_with_flow": "Help with my {flow}",
    # bot/pipeline.py: a button press the bot did not send
    "button.unavailable": "Sorry, that button isn't available here.",
    # dialogs/engagement.py: replies to a vote
    "poll.elsewhere": "Sorry, this poll isn't running in this chat.",
    "poll.which_option": "Which one do you mean: {options}? Tap to confirm.",
    "poll.or": "or",
    "poll.unclear": "Sorry, I couldn't tell which option you meant. {question}",
    "poll.recorded": "Thanks! Your vote for {chosen} is in. ✅",
    "poll.changed": "Changed: your vote is now {chosen}. ✅",
    "poll.withdrawn": "Changed: your vote is withdrawn. ✅",
    "poll.unchanged": "Your vote for {chosen} was already counted. ✅",
    "poll.nothing_to_change": "Nothing to change.",
    "poll.locked": "You already voted for {chosen}; votes in this poll can't be changed.",
    "poll.closed": "Sorry, this poll is closed.",
    # dialogs/engagement.py: replies to a giveaway entry
    "giveaway.question": "To enter the {prize} giveaway, answer this: {question}",
    "giveaway.entered": "You're in the {prize} giveaway! 🎁 Good luck: winners are notified here privately.",
    "giveaway.already": "You're already in the {prize} giveaway: one entry per fan. Good luck! 🍀",
    "giveaway.closed": "Sorry, entries for the {prize} giveaway are closed.",
    "giveaway.not_open": "The {prize} giveaway hasn't opened yet. Stay tuned!",
    "giveaway.none": "There's no such giveaway running right now.",
    # dialogs/polls.py: a poll posted as buttons, and its results, in a group (the brand's default language)
    "poll.announce": "📊 {question} ({how})",
    "poll.choose_one": "choose one",
    "poll.choose_many": "choose one or more",
    "poll.results": "📊 Poll #{poll} (closed): {question}",
    "poll.voters": "{voters} voters",
    # dialogs/giveaways.py: the opening post and the results in a group (the brand's default language) ...
    "giveaway.announce": ("🎁 Giveaway: {prize}! {winners}. To enter, {how}. Entries close {closes} UTC.\n"
                          "Fair draw commitment (SHA-256 of the secret seed): {commitment}"),
    "giveaway.winners": "{winners} winners",
    "giveaway.how_keyword": "send “{keyword}”",
    "giveaway.how_button": "press the button below or tell me “enter the giveaway”",
    "giveaway.enter_button": "Enter 🎁",
    "giveaway.results": ("🎁 {prize}: the draw is done! Winner(s): {winners}.\nSeed (revealed now): {seed}\n"
                         "Commitment published at open: {commitment}\nEntries hash at close: {entries_hash}\n"
                         "Anyone can check it: see “verify a draw” in our docs."),
    "giveaway.nobody": "nobody (no eligible entries)",
    # ... and the winner's private notice (the winner's conversation language)
    "giveaway.won": ("🎉 Congratulations! You won the {prize} giveaway. We'll contact you here about your prize. "
                     "You can check the draw yourself: giveaway #{giveaway}, seed {seed}."),
    # dialogs/policy.py: a second request of the fan's when the first one went to a person
    "escalation.also_noted": "I've also noted your other request ({request}) for the person who takes over.",
    # dialogs/policy.py: the fan's words about a task at one of its questions (`notes:` in flows.yml)
    "flow.noted": "Sorry to hear that. I've noted it for the person who handles your {flow}.",
}

#: Phrases whose words change with a number: key -> the placeholder holding the number. In
#: phrases.yml such a phrase may give a language's forms by CLDR plural category (dialogs/plural.py),
#: `ar: {one: ..., two: ..., few: ..., many: ..., other: ...}`; `other` is required and is the form
#: for any category left out. Arabic says "3 دقائق" but "11 دقيقة", Polish "1 minuty" but "5 minut".
COUNTED: dict[str, str] = {"wait.minutes": "minutes", "wait.hours": "hours", "poll.voters": "voters",
                           "giveaway.winners": "winners"}
#: English forms besides `other` (which PHRASES holds): "1 voter", "1 winner"
ENGLISH_FORMS: dict[str, dict[str, str]] = {"poll.voters": {"one": "{voters} voter"},
                                            "giveaway.winners": {"one": "{winners} winner"}}


def form_key(language: str, form: str) -> str:
    """Where a plural form other than `other` is kept in a phrase's language table ("ar:few")."""
    return f"{language}:{form}"


def choose(key: str, table: Mapping[str, str], chain: Sequence[str], values: Mapping[str, Any]) -> str:
    """The unfilled text of phrase `key`: the first language of `chain` that `table` (language -> text)
    has, else the English; for a `COUNTED` phrase, in the plural form its number takes in that language."""
    count = values.get(COUNTED[key]) if key in COUNTED else None
    for lang in chain:
        if lang in table:
            if count is None:
                return table[lang]
            return table.get(form_key(lang, plural.category(lang, count)), table[lang])
    text = PHRASES.get(key, key)
    if count is not None:
        text = ENGLISH_FORMS.get(key, {}).get(plural.category("en", count), text)
    return text


def language_of(table: Mapping[str, str], chain: Sequence[str]) -> str:
    """The language `choose` takes a phrase's text from: the first of `chain` that `table` has, else English."""
    return next((lang for lang in chain if lang in table), "en")


def english(key: str, **values: Any) -> str:
    """The English phrase filled: what the engine says when no domain (no translations) is given."""
    return choose(key, {}, (), values).format(**values)


DAY_KEYS = ("day.monday", "day.tuesday", "day.wednesday", "day.thursday", "day.friday", "day.saturday",
            "day.sunday")
