"""`fancare review`: the trainer's terminal UI over the review inbox (rich).

One item at a time, one key and Enter per decision, so it is quick by hand and scriptable with piped
stdin (one command per line; end of input quits):

    a          accept the predicted intent        1-3      take that intent from the ranking
    p NAME     pick another existing intent       n NAME   create a new intent
    o          out of scope                       s        skip (comes back next time)
    q          quit                               ?        list the known intents

Each labelled item is written into the training data at once (`nlu.review.write_labels`, which
validates) and its decision recorded, so quitting or a crash loses nothing already decided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from bot.review import ReviewItem, record_decision
from bot.store import Store
from nlu.review import write_labels

HELP = ("[bold]a[/] accept · [bold]1-3[/] ranking · [bold]p NAME[/] pick intent · [bold]n NAME[/] new intent · "
        "[bold]o[/] out of scope · [bold]s[/] skip · [bold]q[/] quit · [bold]?[/] intents")
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
OUT_OF_SCOPE = "out_of_scope"


@dataclass
class SessionSummary:
    labelled: int = 0
    examples: int = 0
    skipped: int = 0
    conflicts: list[str] = field(default_factory=list)
    new_intents_waiting: dict[str, int] = field(default_factory=dict)


@dataclass
class ReviewSession:
    store: Store
    training_dir: Path
    intents: list[str]
    operator: str = "cli-trainer"
    min_examples: int = 5
    known_entities: set[str] | None = None

    def label(self, item: ReviewItem, intent: str, decision: str, console: Console, summary: SessionSummary) -> bool:
        """Write the item's wordings under `intent`; record the decision unless nothing could be written."""
        res = write_labels(self.training_dir, [(t, intent) for t in item.texts], min_examples=self.min_examples,
                           known_entities=self.known_entities)
        for p in res.problems:
            console.print(f"[red]{escape(p.describe())}[/]")
        if not res.ok:
            console.print("[red]not written: the training data would not validate[/]")
            return False
        for text, wanted, where in res.conflicts:
            summary.conflicts.append(f"{text!r} -> {wanted}: already {where}")
            console.print(f"[yellow]conflict:[/] {escape(text)!r} is already {escape(where)}; edit that file "
                          "to move it")
        written = len(res.added) + len(res.moved) + len(res.duplicates)
        if not written:
            return False
        record_decision(self.store, item.texts, decision=decision, label=intent, predicted=item.predicted,
                        occurrences=item.count, operator=self.operator)
        if intent not in self.intents:
            self.intents.append(intent)
        summary.labelled += 1
        summary.examples += len(res.added) + len(res.moved)
        summary.new_intents_waiting = dict(res.waiting)
        note = f" ({len(res.moved)} moved from another intent)" if res.moved else ""
        wait = f"; {intent} waits for {self.min_examples - res.waiting[intent]} more example(s)" \
            if intent in res.waiting else ""
        console.print(f"[green]labelled[/] {written} wording(s) as [bold]{escape(intent)}[/]{note}{wait}")
        return True


def _show(console: Console, item: ReviewItem, i: int, n: int) -> None:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(item.reasons.items()))
    ranking = "  ".join(f"[bold]{j}[/] {escape(name)} {score:.2f}" for j, (name, score) in enumerate(item.ranking, 1))
    body = [f"[bold]{escape(item.text)}[/]", f"seen {item.count}x · {reasons}",
            f"predicted [cyan]{escape(item.predicted)}[/] ({item.confidence:.2f})   {ranking}"]
    if item.variants:
        body.append("also: " + " | ".join(escape(v) for v in item.variants))
    console.print(Panel("\n".join(body), title=f"{i}/{n}", expand=False))
    console.print(HELP)


def _read(stdin: TextIO, console: Console, prompt: str) -> str | None:
    console.print(prompt, end="")
    line = stdin.readline()
    return None if line == "" else line.strip()


def run_review(session: ReviewSession, items: list[ReviewItem], stdin: TextIO, stdout: TextIO) -> SessionSummary:
    console = Console(file=stdout, highlight=False, soft_wrap=True)
    summary = SessionSummary()
    if not items:
        console.print("review inbox is empty: nothing the NLU was unsure about")
        return summary
    for i, item in enumerate(items, 1):
        _show(console, item, i, len(items))
        while True:
            line = _read(stdin, console, "> ")
            if line is None or line.lower() in ("q", "quit"):
                return _done(console, summary)
            cmd, _, arg = line.partition(" ")
            cmd, arg = cmd.lower(), arg.strip()
            if cmd == "?":
                console.print("intents: " + ", ".join(sorted(session.intents)))
                continue
            if cmd == "s":
                summary.skipped += 1
                break
            target: tuple[str, str] | None = None
            if cmd == "a":
                target = (item.predicted, "accept")
            elif cmd.isdigit() and 1 <= int(cmd) <= len(item.ranking):
                name = item.ranking[int(cmd) - 1][0]
                target = (name, "accept" if name == item.predicted else "relabel")
            elif cmd == "o":
                target = (OUT_OF_SCOPE, "out_of_scope")
            elif cmd == "p":
                name = arg or (_read(stdin, console, "intent> ") or "")
                if name not in session.intents:
                    console.print(f"[red]unknown intent {escape(name)!r}[/] (? lists them; n NAME creates one)")
                    continue
                target = (name, "accept" if name == item.predicted else "relabel")
            elif cmd == "n":
                name = arg or (_read(stdin, console, "new intent> ") or "")
                if not INTENT_NAME.match(name):
                    console.print("[red]an intent name is lower-case letters, digits and _ (e.g. battery_life)[/]")
                    continue
                target = (name, "new_intent" if name not in session.intents else "relabel")
            if target is None:
                console.print("[red]?[/] " + HELP)
                continue
            if session.label(item, target[0], target[1], console, summary):
                break
            console.print("nothing written for this item; choose again or s to skip")
    return _done(console, summary)


def _done(console: Console, summary: SessionSummary) -> SessionSummary:
    console.print(f"\n{summary.labelled} item(s) labelled ({summary.examples} new example(s)), "
                  f"{summary.skipped} skipped, {len(summary.conflicts)} conflict(s).")
    for intent, n in sorted(summary.new_intents_waiting.items()):
        console.print(f"new intent {intent}: {n} example(s) waiting in training_data/review/new_intents.yml")
    if summary.examples:
        console.print("Run `fancare train` to train and compare the new model with the current one.")
    return summary
