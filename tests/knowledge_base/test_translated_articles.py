"""Translated help articles: `articles/<lang>/*.md` with `translation_of`, answered in the fan's language
by the fallback order (fan's language, brand default, English)."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base import KnowledgeBase, load_articles
from nlu.yamlfile import DataError
from tests.conftest import REPO

EN = """---
id: returns-policy
title: What is the returns policy?
questions:
  - how do I return something
  - can I send my headphones back
tags: [returns]
---
You can return any Voltora product within 30 days for a full refund.
"""

ES = """---
id: returns-policy-es
translation_of: returns-policy
language: es
title: ¿Cuál es la política de devoluciones?
questions:
  - cómo devuelvo un producto
  - puedo devolver mis auriculares
tags: [returns]
---
Puedes devolver cualquier producto Voltora en un plazo de 30 días y te devolvemos el importe completo.
"""

DE = ES.replace("returns-policy-es", "returns-policy-de").replace("language: es", "language: de").replace(
    "¿Cuál es la política de devoluciones?", "Wie funktioniert die Rückgabe?")

OTHER = """---
id: payment-methods
title: Which payment methods do you accept?
questions:
  - can I pay with paypal
tags: [payment]
---
We accept cards and PayPal.
"""


def kb_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "articles"
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text, encoding="utf-8")
    return d


def test_articles_load_from_language_folders_with_their_original(tmp_path: Path) -> None:
    arts = {a.id: a for a in load_articles(kb_folder(tmp_path, {"returns-policy.md": EN, "es/returns-policy.md": ES}))}
    assert set(arts) == {"returns-policy", "returns-policy-es"}
    assert arts["returns-policy-es"].translation_of == "returns-policy"
    assert arts["returns-policy-es"].group == arts["returns-policy"].group == "returns-policy"


def test_an_unknown_translation_of_names_file_and_line(tmp_path: Path) -> None:
    d = kb_folder(tmp_path, {"returns-policy.md": EN, "es/returns-policy.md": ES.replace(
        "translation_of: returns-policy", "translation_of: return-policy")})
    with pytest.raises(DataError) as e:
        load_articles(d)
    assert e.value.key == "translation_of" and e.value.line == 3
    assert e.value.file is not None and e.value.file.endswith("es/returns-policy.md")
    assert "'return-policy'" in e.value.message


def test_a_translation_of_a_translation_is_refused(tmp_path: Path) -> None:
    de = DE.replace("translation_of: returns-policy", "translation_of: returns-policy-es")
    with pytest.raises(DataError, match="itself a translation"):
        load_articles(kb_folder(tmp_path, {"returns-policy.md": EN, "es/r.md": ES, "de/r.md": de}))


def test_the_shipped_translations_point_at_english_articles() -> None:
    arts = load_articles(REPO / "knowledge_base" / "articles")
    by_id = {a.id: a for a in arts}
    translated = [a for a in arts if a.translation_of]
    assert translated, "the demo ships translated articles"
    for a in translated:
        assert a.translation_of is not None
        assert by_id[a.translation_of].language == "en" and a.id == f"{a.translation_of}-{a.language}", a.file


@pytest.mark.parametrize("encoder", ["minilm", "e5"])
def test_the_answer_is_the_translation_in_the_fans_language(tmp_path: Path, encoder: str) -> None:
    """The shipped encoders (no trained NLU head needed: retrieval is embeddings only)."""
    kb = KnowledgeBase(kb_folder(tmp_path, {"returns-policy.md": EN, "es/returns-policy.md": ES,
                                            "de/returns-policy.md": DE, "payment-methods.md": OTHER}))
    # a Spanish fan whose words match the English article best still reads the Spanish one
    best = kb.search("can I send my headphones back", encoder=encoder, language="es")[0]
    assert best.article.id == "returns-policy-es"
    assert best.article.title == "¿Cuál es la política de devoluciones?"
    # one match per article and its translations
    ids = [m.article.group for m in kb.search("devolver auriculares", encoder=encoder, language="es")]
    assert len(ids) == len(set(ids))
    # no Polish translation: the brand's default language, then English
    assert kb.search("zwrot słuchawek", encoder=encoder, language="pl")[0].article.id == "returns-policy"
    kb.default_language = "de"
    assert kb.search("zwrot słuchawek", encoder=encoder, language="pl")[0].article.id == "returns-policy-de"
    # the English fan gets the English article even when the Spanish one matched
    assert kb.search("puedo devolver mis auriculares", encoder=encoder, language="en")[0].article.id == \
        "returns-policy"
