"""Import an existing Rasa 3.x project, and export fancare's data as one.

Import (`fancare data import-rasa DIR`):
- NLU data from `DIR/data/**/*.yml` (intents with entity annotations, synonyms, regexes, lookups)
  -> one Rasa NLU YAML file in fancare's training data (sorted, diff-friendly);
- responses and entities from `DIR/domain.yml` (or `DIR/domain/*.yml`) -> a domain file;
- simple rules (one intent, then one `utter_*` action, no conditions) -> the response is filed as
  `utter_<intent>`, which the dialog policy answers for an intent it has no flow for.
Anything else (stories, forms, custom actions, slots mappings, conditional responses) is listed as
skipped, never silently dropped. The CLI also turns forms and rules into flows (`dialogs.rasa_flows`),
which reports the rules, stories, forms, slots and actions it does not translate.

Export (`fancare data export-rasa DIR`): `data/nlu.yml`, `data/rules.yml` (one rule per intent
answered by a plain response) and `domain.yml` (intents, entities, responses; language variations
are left out because Rasa has no such key, and counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from nlu.readers import read_rasa_yaml, to_rasa_yaml
from nlu.training_data import TrainingData
from nlu.yamlfile import DataError

RESPONSE_KEYS = {"text", "buttons"}
BUILTIN_RULES = {"greet": "utter_greet", "goodbye": "utter_goodbye", "thanks": "utter_thanks",
                 "praise": "utter_praise"}


@dataclass
class ImportResult:
    data: TrainingData
    responses: dict[str, list[dict[str, Any]]]
    entities: list[str]
    rules: dict[str, str]  # intent -> response
    skipped: list[str] = field(default_factory=list)
    # the entries of `skipped` about rules, stories, forms, slots and actions: `dialogs.rasa_flows`
    # translates these into flows and reports what it cannot, so the CLI prints its notes instead
    skipped_dialogue: list[str] = field(default_factory=list)


def yaml_files(folder: Path) -> list[Path]:
    """Every YAML file under a Rasa project folder (none when the folder does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".yml", ".yaml"))


def load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"not valid YAML: {exc}", path) from None


def _simple_rule(rule: dict[str, Any]) -> tuple[str, str] | None:
    steps = rule.get("steps") or []
    if set(rule) - {"rule", "steps"} or len(steps) != 2:
        return None
    first, second = steps
    if not (isinstance(first, dict) and isinstance(second, dict) and set(first) == {"intent"}
            and set(second) == {"action"} and str(second["action"]).startswith("utter_")):
        return None
    return str(first["intent"]), str(second["action"])


def read_project(directory: str | Path) -> ImportResult:
    root = Path(directory)
    data_dir = root / "data"
    if not data_dir.is_dir():
        raise DataError("no data/ directory: not a Rasa project", root)
    td = TrainingData()
    rules: dict[str, str] = {}
    skipped: list[str] = []
    dialogue: list[str] = []
    for f in yaml_files(data_dir):
        raw = load_yaml(f) or {}
        if not isinstance(raw, dict):
            continue
        if "nlu" in raw:
            td.merge(read_rasa_yaml(f))
        for r in raw.get("rules") or []:
            simple = _simple_rule(r) if isinstance(r, dict) else None
            if simple:
                rules[simple[0]] = simple[1]
            else:
                dialogue.append(f"rule {r.get('rule', '?') if isinstance(r, dict) else r!r} ({f.name}): not simple")
        if raw.get("stories"):
            dialogue.append(f"{len(raw['stories'])} stories ({f.name})")
    domain_files = [root / "domain.yml"] if (root / "domain.yml").exists() else yaml_files(root / "domain") \
        if (root / "domain").is_dir() else []
    responses: dict[str, list[dict[str, Any]]] = {}
    entities: list[str] = []
    for f in domain_files:
        raw = load_yaml(f) or {}
        for e in raw.get("entities") or []:
            name = next(iter(e)) if isinstance(e, dict) else str(e)
            if name not in entities:
                entities.append(name)
        for name, variations in (raw.get("responses") or {}).items():
            kept = []
            for v in variations or []:
                if not isinstance(v, dict) or "text" not in v or set(v) - RESPONSE_KEYS:
                    skipped.append(f"a variation of {name} (only text and buttons are imported)")
                    continue
                kept.append({k: v[k] for k in ("text", "buttons") if k in v})
            if kept:
                responses[str(name)] = kept
        for key in ("forms", "actions", "slots"):
            if raw.get(key):
                dialogue.append(f"domain {key}: {len(raw[key])} ({f.name})")
    return ImportResult(td, responses, entities, rules, skipped + dialogue, dialogue)


def rule_responses(result: ImportResult) -> dict[str, list[dict[str, Any]]]:
    """Responses filed as `utter_<intent>` for the imported simple rules (the policy's convention)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for intent, response in sorted(result.rules.items()):
        if response in result.responses and f"utter_{intent}" != response:
            out[f"utter_{intent}"] = result.responses[response]
    return out


def write_domain(path: str | Path, base: dict[str, Any] | None, result: ImportResult) -> list[str]:
    """Write a domain file: `base` (the current domain's raw YAML) plus the imported responses.
    On a name clash the current response is kept; the clashes are returned."""
    domain: dict[str, Any] = {"version": "3.1", **(base or {})}
    responses = dict(domain.get("responses") or {})
    clashes = []
    for name, variations in {**result.responses, **rule_responses(result)}.items():
        if name in responses:
            clashes.append(name)
        else:
            responses[name] = variations
    domain["responses"] = responses
    domain["entities"] = sorted(set(domain.get("entities") or []) | set(result.entities))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(domain, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")
    return clashes


def export_project(directory: str | Path, td: TrainingData, domain_raw: dict[str, Any]) -> dict[str, int]:
    """Write a Rasa 3.x project skeleton that `rasa train nlu` and `rasa data validate` accept."""
    root = Path(directory)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "nlu.yml").write_text(to_rasa_yaml(td), encoding="utf-8")
    dropped = 0
    responses: dict[str, list[dict[str, Any]]] = {}
    for name, variations in (domain_raw.get("responses") or {}).items():
        kept = [{k: v[k] for k in ("text", "buttons") if k in v} for v in variations if not v.get("language")]
        dropped += len(variations) - len(kept)
        if kept:
            responses[name] = kept
    rules = {i: r for i, r in BUILTIN_RULES.items() if i in td.intents and r in responses}
    rules.update({i: f"utter_{i}" for i in td.intents if f"utter_{i}" in responses and i not in rules})
    domain = {"version": "3.1", "intents": td.intents, "entities": list(domain_raw.get("entities") or []),
              "responses": responses}
    (root / "domain.yml").write_text(yaml.safe_dump(domain, sort_keys=False, allow_unicode=True, width=120),
                                     encoding="utf-8")
    rules_doc = {"version": "3.1", "rules": [
        {"rule": f"answer {i}", "steps": [{"intent": i}, {"action": r}]} for i, r in sorted(rules.items())]}
    (root / "data" / "rules.yml").write_text(yaml.safe_dump(rules_doc, sort_keys=False, allow_unicode=True),
                                             encoding="utf-8")
    return {"examples": len(td.examples), "intents": len(td.intents), "responses": len(responses),
            "rules": len(rules), "language_variations_left_out": dropped}
