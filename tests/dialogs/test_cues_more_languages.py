"""Task, cancel, skip and correction cues in nl, pl, tr, ru, ar, hi (dialogs/arbitration.py, dialogs/repair.py):
"where is my order?" without a number starts the order form instead of the shipping-times article."""

from __future__ import annotations

import pytest

from dialogs.arbitration import arbitrate
from dialogs.repair import is_cancel, is_correction, is_question, is_skip, wants_task

WHERE = ["waar is mijn bestelling?", "gdzie jest moje zamówienie?", "siparişim nerede?", "где мой заказ?",
         "أين طلبي؟", "मेरा ऑर्डर कहाँ है?", "mijn pakket is nog steeds niet aangekomen", "заказ до сих пор не пришел",
         "طلبي لم يصل", "मेरा पार्सल अभी तक नहीं आया"]
INFO = ["hoe lang duurt de verzending?", "ile trwa wysyłka?", "сколько идёт доставка?", "كم يستغرق الشحن؟"]


@pytest.mark.parametrize("text", WHERE)
def test_the_fans_own_order_asked_after_is_the_task_even_with_an_article_close(text: str) -> None:
    verdict = arbitrate(text=text, intent_confidence=0.9, kb_score=0.62, has_task_entity=False)
    assert verdict.choice == "task", verdict


@pytest.mark.parametrize("text", INFO)
def test_a_general_shipping_question_is_still_answered_from_the_article(text: str) -> None:
    assert arbitrate(text=text, intent_confidence=0.9, kb_score=0.62, has_task_entity=False).choice == "faq"


@pytest.mark.parametrize("text", ["laat maar", "anuluj", "iptal", "отмена", "إلغاء", "الغاء", "لا شكرا", "رد",
                                  "रद्द करो", "रहने दो", "नहीं, धन्यवाद", "передумал"])
def test_cancel_words(text: str) -> None:
    assert is_cancel(text) is (text != "رد")  # "رد" (reply) is no cancel word


@pytest.mark.parametrize("text", ["nie wiem", "bilmiyorum", "не знаю", "لا أعرف", "पता नहीं", "weet niet"])
def test_skip_words(text: str) -> None:
    assert is_skip(text)


@pytest.mark.parametrize("text", ["przepraszam, VT-123456", "pardon, VT-123456", "извините, VT-123456",
                                  "آسف، VT-123456", "सॉरी, VT-123456"])
def test_correction_words(text: str) -> None:
    assert is_correction(text)


def test_questions_and_wishes() -> None:
    assert is_question("أين طلبي؟") and is_question("где мой заказ") and is_question("क्या आप मदद कर सकते हैं")
    assert wants_task("chcę zwrot pieniędzy") and wants_task("хочу вернуть деньги") and wants_task("أريد استرداد المال")
    assert wants_task("मुझे रिफंड चाहिए") and wants_task("para iadesi istiyorum")
    # a wish to know is a question, not a task
    assert arbitrate(text="хочу узнать, сколько идёт доставка", intent_confidence=0.9, kb_score=0.62,
                     has_task_entity=False).choice == "faq"
