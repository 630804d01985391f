"""`fancare data validate` on translations: coverage per language of `brand.languages`, and warnings
(file:line) for placeholders, buttons, unknown responses and flow names, and unlisted languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO

ES = """\
language: es
responses:
  utter_greet:
    - text: "¡Hola {name}!"
  utter_order_status:
    - text: "El pedido {order_numero} está {order_status}."
  utter_faq_unsure:
    - text: "No estoy seguro."
      buttons:
        - title: "Hablar con una persona"
          payload: "/human_handoff"
  utter_offer_human:
    - text: "¿Quieres hablar con una persona?"
      buttons:
        - title: "Sí"
          payload: "/human_handoff"
        - title: "No"
          payload: "/goodbye"
  utter_no_such_thing:
    - text: "¿Qué?"
flow_names:
  order: "pedido"
  shopping: "compras"
"""

SV = "language: sv\nresponses:\n  utter_greet:\n    - text: \"Hej {name}!\"\n"

ARTICLE = """---
id: {id}
{extra}title: {title}
questions: [q one, q two]
tags: [x]
---
Body.
"""


@pytest.fixture
def brand(tmp_path: Path) -> Path:
    tr = tmp_path / "translations"
    tr.mkdir()
    (tr / "es.yml").write_text(ES, encoding="utf-8")
    (tr / "sv.yml").write_text(SV, encoding="utf-8")
    kb = tmp_path / "articles"
    (kb / "es").mkdir(parents=True)
    for name in ("a", "b", "c", "d"):
        (kb / f"{name}.md").write_text(ARTICLE.format(id=name, extra="", title=name.upper()), encoding="utf-8")
    (kb / "es" / "a.md").write_text(ARTICLE.format(id="a-es", extra="translation_of: a\nlanguage: es\n",
                                                   title="A en español"), encoding="utf-8")
    cfg = tmp_path / "config.yml"
    cfg.write_text(f"""\
brand: {{name: Voltora, default_language: en, languages: [en, es, de]}}
nlu: {{training_data: ["{REPO / 'training_data'}"]}}
knowledge_base: {{path: "{kb}"}}
dialogs:
  domain: "{REPO / 'dialogs' / 'domain.yml'}"
  flows: ["{REPO / 'dialogs' / 'flows.yml'}"]
  translations: "{tr}"
""", encoding="utf-8")
    return cfg


def test_coverage_per_language_and_warnings_with_file_and_line(brand: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "validate", "--config", str(brand)]) == 0  # warnings do not fail the check
    out = capsys.readouterr().out
    lines = {line.strip().split(":")[0]: line.strip() for line in out.splitlines() if line.startswith("  ")}
    # es: the four known responses of its file (the unknown one does not count)
    assert lines["en"].startswith("en: responses ") and "articles 4/4 (100%)" in lines["en"]
    total = lines["en"].split("responses ")[1].split("/")[1].split(" ")[0]
    assert lines["es"] == f"es: responses 4/{total} ({100 * 4 / int(total):.0f}%), articles 1/4 (25%)"
    # de: no file, but utter_greet has an inline `language: de` variation in the domain
    assert lines["de"].startswith("de: responses 1/") and "articles 0/4 (0%)" in lines["de"]
    tr = str(brand.parent / "translations")
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert f"warning: {tr}/es.yml:6: utter_order_status[0]: placeholders {{order_numero}}, {{order_status}} differ " \
           "from the English {eta_text}, {order_number}, {order_status}, {product}" in warnings
    assert any(w.startswith(f"warning: {tr}/es.yml:8: utter_faq_unsure[0]: 1 button(s) where English has 2")
               for w in warnings)
    assert any(w.startswith(f"warning: {tr}/es.yml:13: utter_offer_human[0]: button payloads "
                            "['/human_handoff', '/goodbye'] differ") for w in warnings)
    assert f"warning: {tr}/es.yml:19: utter_no_such_thing: no such response in the English source " \
           "(domain or flows)" in warnings
    assert any(w.startswith(f"warning: {tr}/es.yml:23: flow_names.shopping: no flow is named 'shopping'")
               for w in warnings)
    assert not any("flow_names.order" in w for w in warnings)
    assert any(w.startswith(f"warning: {tr}/sv.yml:1: language: language 'sv' is not in brand.languages")
               for w in warnings)


def test_a_broken_translation_file_is_an_error_naming_file_and_line(brand: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (brand.parent / "translations" / "es.yml").write_text("language: es\nresponses:\n  utter_greet: hola\n",
                                                         encoding="utf-8")
    assert main(["data", "validate", "--config", str(brand)]) == 2
    err = capsys.readouterr().err
    assert f"error: {brand.parent / 'translations' / 'es.yml'}:3: utter_greet: a response needs a list" in err
