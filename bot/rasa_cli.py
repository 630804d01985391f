"""`fancare data import-rasa DIR` and `fancare data export-rasa DIR`.

import-rasa writes the NLU data, a domain with the imported responses and, from the project's forms
and rules, a flows file (`flows.rasa.yml` next to the domain output unless `--flows-out`); it ends with
the list of what was not imported or translated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from bot.config import FancareConfig
from bot.review_cli import training_dir
from dialogs.rasa_flows import dump_flows, flows_from_rasa
from nlu.rasa_project import export_project, read_project, write_domain
from nlu.readers import load_training_data, to_rasa_yaml
from nlu.validate import validate


def import_rasa(cfg: FancareConfig, args: argparse.Namespace) -> int:
    result = read_project(args.directory)
    nlu_out = Path(args.training_out) if args.training_out else training_dir(cfg) / "rasa_import.yml"
    domain_path = cfg.resolve(cfg.dialogs.domain)
    domain_out = Path(args.domain_out) if args.domain_out else domain_path.with_name("domain.rasa.yml")
    nlu_out.parent.mkdir(parents=True, exist_ok=True)
    nlu_out.write_text(to_rasa_yaml(result.data), encoding="utf-8")
    base = yaml.safe_load(domain_path.read_text(encoding="utf-8")) if domain_path.exists() else None
    clashes = write_domain(domain_out, base, result)
    print(f"imported {len(result.data.examples)} examples, {len(result.data.intents)} intents, "
          f"{len(result.data.synonyms)} synonyms, {len(result.data.regexes)} regexes, "
          f"{len(result.data.lookups)} lookups -> {nlu_out}")
    print(f"imported {len(result.responses)} responses and {len(result.rules)} simple rules -> {domain_out}"
          + (f" (kept the current {', '.join(sorted(clashes))})" if clashes else ""))
    if domain_out != domain_path:
        print(f"to serve them, set dialogs.domain: {domain_out} in config.yml")
    flows_doc, notes = flows_from_rasa(args.directory)
    flows_out = Path(args.flows_out) if getattr(args, "flows_out", None) else domain_out.with_name("flows.rasa.yml")
    if flows_doc["flows"]:
        flows_out.parent.mkdir(parents=True, exist_ok=True)
        flows_out.write_text(dump_flows(flows_doc, Path(args.directory).name), encoding="utf-8")
        print(f"imported {len(flows_doc['flows'])} flows and {len(flows_doc['slots'])} slots from forms and rules "
              f"-> {flows_out} (to serve them, list it under dialogs.flows in config.yml)")
    else:
        print("no forms or simple rules to turn into flows")
    paths = [cfg.resolve(p) for p in cfg.nlu.training_data]
    if not any(nlu_out.resolve().is_relative_to(p.resolve()) for p in paths if p.is_dir()):
        paths.append(nlu_out)
    problems = validate(load_training_data(paths), min_examples=cfg.nlu.min_examples_per_intent)
    for p in problems:
        print(p.describe(), file=sys.stderr if p.level == "error" else sys.stdout)
    # last: what was not imported or translated (the importer's own notes on rules, stories, forms,
    # slots and actions give way to the flow translation's, which are more precise)
    not_translated = [s for s in result.skipped if s not in result.skipped_dialogue] + notes
    print(f"not translated ({len(not_translated)})" + (":" if not_translated else ""))
    for s in not_translated:
        print(f"skipped: {s}")
    return 2 if any(p.level == "error" for p in problems) else 0


def export_rasa(cfg: FancareConfig, args: argparse.Namespace) -> int:
    td = load_training_data([cfg.resolve(p) for p in cfg.nlu.training_data])
    domain_path = cfg.resolve(cfg.dialogs.domain)
    raw = yaml.safe_load(domain_path.read_text(encoding="utf-8")) if domain_path.exists() else {}
    counts = export_project(args.directory, td, raw or {})
    print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()) + f" -> {args.directory}")
    return 0
