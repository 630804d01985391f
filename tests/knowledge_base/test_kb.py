from __future__ import annotations

import shutil
import time

import pytest

from knowledge_base import KnowledgeBase, load_articles
from nlu.yamlfile import DataError
from tests.conftest import REPO


def test_demo_knowledge_base_has_20_articles_with_front_matter():
    arts = load_articles(REPO / "knowledge_base" / "articles")
    assert len(arts) >= 20
    assert all(a.title and a.questions and a.language for a in arts)


@pytest.mark.parametrize("encoder", ["minilm", "e5"])
def test_retrieval_finds_the_right_article(encoder, nlu_model):
    kb = KnowledgeBase(REPO / "knowledge_base" / "articles")
    cases = {"how do I connect my earbuds to my phone": "pair", "can I pay with paypal": "payment",
             "how long is the warranty": "warranty"}
    for q, word in cases.items():
        best = kb.search(q, encoder=encoder)[0]
        assert word in (best.article.id + best.article.title).lower(), (q, best.article.id)


def test_editing_an_article_reindexes_without_retraining(tmp_path, nlu_model):
    d = tmp_path / "articles"
    shutil.copytree(REPO / "knowledge_base" / "articles", d)
    kb = KnowledgeBase(d, check_every_s=0, cache_file=tmp_path / "cache.npz")
    q = "do you sell gift cards for the holidays?"
    assert not any(m.article.id == "gift-cards" for m in kb.search(q, encoder="minilm")[:1])
    (d / "gift-cards.md").write_text("---\nid: gift-cards\ntitle: Gift cards\nquestions:\n  - do you sell gift cards\n"
                                     "  - can I buy a voucher as a present\nlanguage: en\n---\n"
                                     "Yes! Digital gift cards from 25 to 200 EUR, valid for 3 years.\n")
    time.sleep(0.01)
    best = kb.search(q, encoder="minilm")[0]
    assert best.article.id == "gift-cards" and best.score > 0.6
    assert (tmp_path / "cache.npz").exists()


def test_bad_article_names_file_and_key(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: A\nquestons: [x]\n---\nbody\n")
    with pytest.raises(DataError) as e:
        load_articles(tmp_path)
    assert e.value.key == "questons" and e.value.line == 3 and "a.md" in str(e.value)
