"""FAQ or task: does the fan want to know something, or want something done?

"What is your return policy?" and "refund my order VT-100200" both look like `refund_request` to an
intent classifier; only the second should start the refund flow. The knowledge base takes part in
the decision: a close article match for a question-shaped message beats a transactional intent of
modest confidence, while explicit task cues (an order number, "I want ...", "please refund ...")
start the flow. Between the two, one short question with buttons beats a wrong guess.

Measured on `benchmarks/data/arbitration.csv` (BENCHMARKS.md, "FAQ or task").
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.repair import is_question, wants_task

#: a question-shaped message with an article this close (MiniLM scale, knowledge_base/retriever.py) is a FAQ
FAQ_SCORE = 0.80
#: a statement ("my buds won't connect") needs a closer article to count as a how-to question
STATEMENT_SCORE = 0.90
#: how far below those an article still makes us ask instead of guessing
CLARIFY_BAND = 0.08


@dataclass(frozen=True)
class Arbitration:
    choice: str  # "task" | "faq" | "clarify"
    reason: str


def arbitrate(*, text: str, intent_confidence: float, kb_score: float | None, has_task_entity: bool,
              kb_tags_match: bool = False) -> Arbitration:
    """Choose between starting a flow and answering from the knowledge base."""
    if kb_score is None:
        return Arbitration("task", "no article")
    if has_task_entity:
        return Arbitration("task", "the message names an order")
    question = is_question(text)
    if wants_task(text) and not (question and kb_score >= STATEMENT_SCORE):
        return Arbitration("task", "the fan asks for it to be done")
    score = kb_score + (0.02 if kb_tags_match else 0.0)
    bar = FAQ_SCORE if question else STATEMENT_SCORE
    if score >= bar:
        return Arbitration("faq", "a question an article answers" if question else "an article matches closely")
    if score >= bar - CLARIFY_BAND and intent_confidence < 0.99:
        return Arbitration("clarify", "an article and the task are both close")
    return Arbitration("task", "no article close enough")
