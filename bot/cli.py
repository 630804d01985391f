"""The `fancare` command. Every subcommand takes `--config PATH` (default ./config.yml).

Exit codes: 0 ok, 1 runtime failure, 2 bad input (config, training data, arguments)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bot.config import FancareConfig, load_config
from nlu.yamlfile import DataError


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.yml", help="path to config.yml (default: ./config.yml)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fancare", description="fancare: a brand's community assistant")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("shell", help="chat as a fan in the terminal (piped stdin: one message per line)")
    _add_config(p)
    p.add_argument("--debug", action="store_true", help="show intent, confidence, entities, article")
    p.add_argument("--user", default=None, help="fan id for this shell session")
    p.add_argument("--name", default=None, help="fan display name")

    p = sub.add_parser("run", help="start the configured channels (the shell when none other is set)")
    _add_config(p)

    p = sub.add_parser("train", help="train the NLU model from training data")
    _add_config(p)

    p = sub.add_parser("nlu", help="NLU tools")
    _add_config(p)
    nsub = p.add_subparsers(dest="nlu_command", required=True)
    q = nsub.add_parser("parse", help="print the NLU result for TEXT as JSON")
    _add_config(q)
    q.add_argument("text")

    p = sub.add_parser("test", help="evaluate")
    tsub = p.add_subparsers(dest="test_command", required=True)
    q = tsub.add_parser("nlu", help="evaluate the NLU on a data file")
    _add_config(q)
    q.add_argument("--data", required=True, help="Rasa YAML or CSV test data")
    q.add_argument("--train", default=None, help="train a fresh model on this file first")
    q.add_argument("--cv", type=int, default=None, help="K-fold cross-validate on --data instead")
    q.add_argument("--encoder", choices=["minilm", "e5", "cascade"], default=None, help="override nlu.encoder")
    q.add_argument("--out", default="reports/nlu", help="output directory")

    p = sub.add_parser("data", help="training-data tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("validate", help="check training data; non-zero exit on errors")
    _add_config(q)
    q.add_argument("paths", nargs="*", help="files or directories (default: nlu.training_data)")
    q = dsub.add_parser("convert", help="convert CSV or Rasa YAML to Rasa YAML")
    _add_config(q)
    q.add_argument("source")
    q.add_argument("target", help="output .yml path, or - for stdout")

    p = sub.add_parser("inbox", help="operator inbox: list, claim, reply to and resolve escalations")
    _add_config(p)
    p.add_argument("action", nargs="?", default="list",
                   choices=["list", "show", "claim", "reply", "resolve", "handback"])
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("text", nargs="?", default="")
    p.add_argument("--as", dest="operator", default="cli-operator", help="operator name")

    p = sub.add_parser("privacy", help="export or erase a fan's personal data")
    _add_config(p)
    p.add_argument("action", choices=["export", "erase"])
    p.add_argument("--channel", required=True)
    p.add_argument("--user", required=True, help="the fan's id on that channel")

    p = sub.add_parser("db", help="database tools")
    _add_config(p)
    p.add_argument("action", choices=["upgrade"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except DataError as exc:
        print(f"error: {exc.describe()}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _config(args: argparse.Namespace) -> FancareConfig:
    from bot.logs import setup_logging

    cfg = load_config(args.config)
    setup_logging(cfg.logging.level if args.command not in ("shell", "nlu") else "WARNING",
                  cfg.logging.redact_personal_data)
    return cfg


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "data":
        return _data(args)
    cfg = _config(args)
    if cmd == "train":
        return _train(cfg)
    if cmd == "run" and (cfg.channels.telegram is not None or cfg.channels.slack is not None):
        from bot.app import App
        from bot.runner import run

        app = App(cfg)
        try:
            return asyncio.run(run(app))
        finally:
            app.close()
    if cmd in ("shell", "run"):
        from bot.app import App
        from bot.channels.shell import run_shell

        app = App(cfg)
        try:
            return asyncio.run(run_shell(app, user_id=getattr(args, "user", None) or cfg.channels.shell.user_id,
                                         display_name=getattr(args, "name", None) or cfg.channels.shell.display_name,
                                         debug=getattr(args, "debug", False)))
        finally:
            app.close()
    if cmd == "nlu":
        from bot.app import load_model

        model = load_model(cfg)
        print(json.dumps(model.parse(args.text).as_dict(), ensure_ascii=False, indent=2))
        return 0
    if cmd == "test":
        return _test_nlu(cfg, args)
    if cmd == "inbox":
        return _inbox(cfg, args)
    if cmd == "privacy":
        from bot.store import Store

        store = Store(cfg.store_url())
        store.migrate()
        if args.action == "export":
            data = store.export_contact(args.channel, args.user)
            if data is None:
                print("error: no such fan", file=sys.stderr)
                return 1
            print(json.dumps(data, indent=2, ensure_ascii=False))
            return 0
        ok = store.erase_contact(args.channel, args.user)
        print("erased" if ok else "error: no such fan", file=sys.stdout if ok else sys.stderr)
        return 0 if ok else 1
    if cmd == "db":
        from bot.store import Store

        Store(cfg.store_url()).migrate()
        print("database is at the newest schema")
        return 0
    return 2


def _train(cfg: FancareConfig) -> int:
    from bot.app import model_root, train_model
    from nlu.readers import load_training_data
    from nlu.validate import validate

    td = load_training_data([cfg.resolve(p) for p in cfg.nlu.training_data])
    errors = [p for p in validate(td, min_examples=cfg.nlu.min_examples_per_intent) if p.level == "error"]
    if errors:
        for p in errors:
            print(p.describe(), file=sys.stderr)
        return 2
    model = train_model(cfg)
    path = model.save(model_root(cfg))
    m = model.meta
    print(f"trained model {m['version']} on {m['examples']} examples, {len(m['intents'])} intents, "
          f"encoders {', '.join(m['encoders'])} in {m['train_seconds']} s -> {path}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from nlu.readers import load_training_data, to_rasa_yaml
    from nlu.validate import validate

    if args.data_command == "convert":
        td = load_training_data([args.source])
        text = to_rasa_yaml(td)
        if args.target == "-":
            sys.stdout.write(text)
        else:
            Path(args.target).write_text(text, encoding="utf-8")
            print(f"wrote {len(td.examples)} examples, {len(td.intents)} intents to {args.target}")
        return 0
    cfg = load_config(args.config) if Path(args.config).exists() else FancareConfig()
    paths = args.paths or [cfg.resolve(p) for p in cfg.nlu.training_data]
    td = load_training_data(paths)
    known: set[str] | None = None
    domain_path = cfg.resolve(cfg.dialogs.domain)
    if domain_path.exists():
        from dialogs.domain import Domain

        known = set(Domain.load(domain_path).entities)
    problems = validate(td, min_examples=cfg.nlu.min_examples_per_intent, known_entities=known)
    for p in problems:
        print(p.describe(), file=sys.stderr if p.level == "error" else sys.stdout)
    n_err = sum(p.level == "error" for p in problems)
    print(f"{len(td.examples)} examples, {len(td.intents)} intents, {len(td.entity_types)} entity types: "
          f"{n_err} error(s), {len(problems) - n_err} warning(s)")
    return 2 if n_err else 0


def _test_nlu(cfg: FancareConfig, args: argparse.Namespace) -> int:
    from bot.app import load_model, nlu_config_fingerprint
    from nlu.evaluate import cross_validate, evaluate, format_table, write_report
    from nlu.model import NLUModel
    from nlu.readers import load_training_data
    from nlu.training_data import TrainingData

    route = args.encoder or cfg.nlu.encoder
    data = load_training_data([args.data])

    def train(td: TrainingData) -> NLUModel:
        return NLUModel.train(td, route=route, threshold=cfg.nlu.fallback_threshold, C=cfg.nlu.regularization,
                              max_chars=cfg.nlu.max_text_chars, config_fingerprint=nlu_config_fingerprint(cfg))

    report: dict[str, Any]
    if args.cv:
        report, errors, pred = cross_validate(data, args.cv, train)
    else:
        model = train(load_training_data([args.train])) if args.train else load_model(cfg)
        report, errors, pred = evaluate(model, data)
        report["model_version"] = model.version
    report["encoder"] = route
    _, true = data.texts_and_labels()
    out = write_report(args.out, report, errors, true, pred)
    print(format_table(report))
    print(f"report: {out / 'report.json'}")
    return 0


def _inbox(cfg: FancareConfig, args: argparse.Namespace) -> int:
    from bot import inbox
    from bot.store import Store
    from dialogs.domain import Domain

    store = Store(cfg.store_url())
    store.migrate()
    if args.action == "list":
        rows = inbox.list_open(store)
        if not rows:
            print("no open escalations")
        for r in rows:
            who = f" by {r['claimed_by']}" if r["claimed_by"] else ""
            print(f"#{r['id']} [{r['priority']}] {r['queue']} {r['state']}{who} {r['fan'] or ''}: {r['last']}")
        return 0
    if args.id is None:
        print("error: an escalation id is needed", file=sys.stderr)
        return 2
    if args.action == "show":
        data = inbox.show(store, args.id)
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0 if data else 1
    if args.action == "claim":
        res = inbox.claim(store, args.id, args.operator)
    elif args.action == "reply":
        res = inbox.reply(store, args.id, args.operator, args.text)
    else:
        domain = Domain.load(cfg.resolve(cfg.dialogs.domain))
        res = inbox.close(store, domain, args.id, args.operator,
                          "resolved" if args.action == "resolve" else "handed_back")
    print(res.message, file=sys.stdout if res.ok else sys.stderr)
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
