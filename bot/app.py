"""Wiring: build every part from `config.yml` once, and hand out the pipeline."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from bot.config import FancareConfig
from bot.lazy_nlu import LazyNLUService
from bot.operators import LocalInbox, OperatorInbox
from bot.ops.database import DatabaseWatch, wait_for_database
from bot.ops.metrics import OpsMetrics
from bot.order_owner import OwnerCheck
from bot.orders import (
    OrderLookup,
    fill_order_example,
    number_format_from_config,
    order_lookup_from_config,
    set_order_number_format,
)
from bot.pipeline import Pipeline
from bot.store import Store
from dialogs.actions import ActionRegistry
from dialogs.builtin_actions import builtin_actions
from dialogs.domain import Domain
from dialogs.engagement import Engagement
from dialogs.flows import FlowSet, load_flows
from dialogs.policy import DialogPolicy
from knowledge_base import KnowledgeBase
from knowledge_base.articles import Article
from moderation.crisis_feed import CrisisWatch
from moderation.playbook import CrisisPlaybook
from moderation.setup import build_moderator, load_heads
from nlu.model import NLUModel
from nlu.readers import load_training_data
from nlu.service import NLUService

log = logging.getLogger("fancare.app")
T = TypeVar("T")


def nlu_config_fingerprint(cfg: FancareConfig) -> str:
    body: dict[str, Any] = {"encoder": cfg.nlu.encoder, "C": cfg.nlu.regularization, "threshold": cfg.nlu.fallback_threshold,
            "max_chars": cfg.nlu.max_text_chars}
    if cfg.nlu.features or cfg.nlu.finetune:  # only then, so that default fingerprints stay as they were
        # the epochs matter only to a fine-tune (1 stands in otherwise: the default's fingerprint as it was)
        body.update(features=cfg.nlu.features, tfidf_weight=cfg.nlu.tfidf_weight, finetune=cfg.nlu.finetune,
                    finetune_epochs=cfg.nlu.finetune_epochs if cfg.nlu.finetune else 1)
    if cfg.nlu.oos_thresholds != "cv" or cfg.nlu.oos_cv_max_loss != 0.02 or not cfg.nlu.knn:
        body.update(oos=cfg.nlu.oos_thresholds, oos_cv_max_loss=cfg.nlu.oos_cv_max_loss, knn=cfg.nlu.knn)
    if cfg.nlu.adapter:
        body["adapter"] = True
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def model_root(cfg: FancareConfig) -> Path:
    return cfg.resolve(cfg.nlu.model_dir)


def train_options(cfg: FancareConfig, route: str | None = None) -> dict[str, Any]:
    """`NLUModel.train` keyword arguments from `nlu:` (shared by `fancare train` and `fancare test nlu`)."""
    return {"route": route or cfg.nlu.encoder, "threshold": cfg.nlu.fallback_threshold, "C": cfg.nlu.regularization,
            "max_chars": cfg.nlu.max_text_chars, "config_fingerprint": nlu_config_fingerprint(cfg),
            "features": list(cfg.nlu.features), "text_weight": cfg.nlu.tfidf_weight,
            "finetune": cfg.nlu.finetune, "finetune_epochs": cfg.nlu.finetune_epochs,
            "oos": cfg.nlu.oos_thresholds, "oos_cv_max_loss": cfg.nlu.oos_cv_max_loss,
            "secondary_threshold": cfg.nlu.secondary_threshold, "knn": cfg.nlu.knn, "adapter": cfg.nlu.adapter,
            "entity_patterns": entity_patterns(cfg)}


def entity_patterns(cfg: FancareConfig) -> dict[str, tuple[str, str | None]]:
    """Entity regexes that come from config rather than training data: the brand's order number."""
    return {"order_number": (cfg.orders.number_pattern, cfg.orders.number_format)}


def train_model(cfg: FancareConfig) -> NLUModel:
    td = load_training_data([cfg.resolve(p) for p in cfg.nlu.training_data])
    return NLUModel.train(td, **train_options(cfg))


def model_language_table(cfg: FancareConfig) -> Path | None:
    """The word table `fancare train` wrote next to the model `models/LATEST` names, if there is one."""
    from nlu.language_corpus import MODEL_TABLE

    root = model_root(cfg)
    latest = root / "LATEST"
    if not latest.exists():
        return None
    table = root / latest.read_text().strip() / MODEL_TABLE
    return table if table.is_file() else None


def load_model(cfg: FancareConfig) -> NLUModel:
    """Load the newest trained model; never trains implicitly (that is `fancare train`'s job)."""
    model = NLUModel.load(model_root(cfg))
    for entity, (pattern, canonical) in entity_patterns(cfg).items():  # config may have changed since training
        model.extractor.use_pattern(entity, pattern, canonical)
    try:
        td = load_training_data([cfg.resolve(p) for p in cfg.nlu.training_data])
        if td.fingerprint() != model.meta.get("data_fingerprint"):
            log.warning("training data changed since model %s was trained; run `fancare train`", model.version)
    except Exception:  # noqa: BLE001 - a warning only; serving goes on with the trained model
        pass
    return model


def build_actions(cfg: FancareConfig, domain: Domain) -> ActionRegistry:
    """The action registry: fancare's own actions (added by the policy) and the brand's action server."""
    remote = None
    if cfg.actions.url:
        from dialogs.action_server import RasaActionServer, rasa_domain

        remote = RasaActionServer(cfg.actions.url, timeout_s=cfg.actions.timeout_s,
                                  domain=rasa_domain(domain, [], actions=[]))  # completed by App once flows load
    return ActionRegistry(remote=remote, timeout_s=cfg.actions.timeout_s)


def load_app_domain(cfg: FancareConfig) -> Domain:
    """The domain with the brand's default language and the translations of `dialogs.translations`."""
    from dialogs.translation_files import load_translations

    domain = Domain.load(cfg.resolve(cfg.dialogs.domain))
    domain.default_language = cfg.brand.default_language
    domain.use_translations(load_translations(cfg.dialogs.translations_dir(cfg)))
    return domain


def load_app_flows(cfg: FancareConfig, domain: Domain, actions: ActionRegistry | None = None,
                   strict: bool = True) -> FlowSet:
    """The flows named in `dialogs.flows`, checked against the domain and the registered actions."""
    names = {"action_record_csat"} | (actions.names() if actions else set())
    return load_flows([cfg.resolve(p) for p in cfg.dialogs.flows], responses=set(domain.responses), actions=names,
                      remote_actions=bool(cfg.actions.url), strict=strict)


def load_brand_texts(cfg: FancareConfig) -> tuple[Domain, list[Article], FlowSet]:
    """What fans read from the brand, as `fancare data validate` and the report's translation coverage
    both read it: the domain with its translations and the flows' own responses merged in, the help
    articles (none without a knowledge-base folder) and the flows. Raises `DataError` naming the file;
    each caller decides what a broken file means for it (a problem to report, or a warning)."""
    from knowledge_base.articles import load_articles

    domain = load_app_domain(cfg)
    kb_dir = cfg.resolve(cfg.knowledge_base.path)
    articles = load_articles(kb_dir) if kb_dir.is_dir() else []
    flows = load_app_flows(cfg, domain, None, strict=False)
    domain.merge_responses({k: v for k, v in flows.responses.items() if k not in domain.responses})
    return domain, articles, flows


class App:
    """Every part of fancare built from `cfg`, for the process's `role` (bot/runner.py's ROLES).

    A "receiver" (`fancare run --role receiver`) records updates and understands none of them, so it
    loads no NLU model, encoder or language identifier at start: its NLU is a `LazyNLUService`, loaded
    only if something reads it (an edited group message to moderate). "all" and "worker" load the
    model here, before serving. `role` only changes what is loaded when; every part is there."""

    def __init__(self, cfg: FancareConfig, *, model: NLUModel | None = None, operators: OperatorInbox | None = None,
                 orders: OrderLookup | None = None, role: str = "all") -> None:
        self.cfg = cfg
        self.role = role
        self.store = Store(cfg.store_url(), echo=cfg.store.echo)
        wait_for_database(self.store, backoff_max_s=cfg.ops.database_backoff_max_s)  # a start during an outage waits
        self.store.migrate()
        lazy = model is None and role == "receiver"
        self.nlu = (LazyNLUService(lambda: load_model(cfg), on_load=self._model_loaded) if lazy
                    else NLUService(model or load_model(cfg)))
        loaded = self.loaded_model
        self.kb = KnowledgeBase(cfg.resolve(cfg.knowledge_base.path),
                                encoder_paths=loaded.encoder_paths if loaded is not None else {},
                                cache_file=model_root(cfg) / "kb-embeddings.npz")
        self.kb.default_language = cfg.brand.default_language
        self.domain = load_app_domain(cfg)
        number_format = number_format_from_config(cfg)
        set_order_number_format(number_format)  # the flow normalisers read it (process-wide, like log redaction)
        self.orders = orders or order_lookup_from_config(cfg)
        self.actions = build_actions(cfg, self.domain)
        builtin_actions(self.actions, orders=self.orders, kb=self.kb, answer_chars=cfg.knowledge_base.answer_chars,
                        kb_threshold=cfg.knowledge_base.threshold, phrase=self.domain.phrase,
                        owner=OwnerCheck(cfg.orders.verify, cfg.orders.max_failed_verifications,
                                         cfg.orders.verify_window_minutes))
        self.flows = load_app_flows(cfg, self.domain, self.actions)
        self.domain.merge_responses(self.flows.responses)
        fill_order_example(self.domain, number_format.example)
        if self.actions.remote is not None:  # the action server sees every response and slot the flows use
            from dialogs.action_server import rasa_domain

            self.actions.remote.domain = rasa_domain(self.domain, list(self.flows.slots),  # type: ignore[attr-defined]
                                                     actions=sorted(self.actions.names()))
        self.policy = DialogPolicy(self.domain, self.kb, self.orders, flows=self.flows, actions=self.actions,
                                   kb_threshold=cfg.knowledge_base.threshold,
                                   answer_chars=cfg.knowledge_base.answer_chars,
                                   max_fallbacks=cfg.dialogs.max_fallbacks,
                                   form_max_attempts=cfg.dialogs.form_max_attempts)
        self.moderator = build_moderator(cfg, model_root(cfg), with_heads=not lazy)  # a receiver's: with its model
        self.pipeline = Pipeline(
            self.store, self.nlu, self.policy, self.domain,
            moderator=self.moderator,
            operators=operators or LocalInbox(),
            queue_priority={k: v.priority for k, v in cfg.escalation.queues.items()},
            transcript_messages=cfg.escalation.transcript_messages,
        )
        self.engagement = Engagement(self.store, self.domain)
        self.pipeline.engagement = self.engagement
        self.playbook = CrisisPlaybook.from_config(self.store, cfg)
        self.pipeline.playbook = self.playbook
        self.pipeline.waiting = cfg.escalation.waiting_rules()
        self.refresh_languages(warm=role != "receiver")  # a receiver detects no language
        monitor = self.moderator.crisis
        self.crisis_watch = CrisisWatch(self.store, monitor) if monitor is not None else None
        # operations (bot/ops): this App's own Prometheus registry, fed by the pipeline, and the database watch
        self.metrics = OpsMetrics(self.store, lambda: dict(self.pipeline.metrics),
                                  lambda: m.version if (m := self.loaded_model) is not None else None)
        self.pipeline.observer = self.metrics
        self.database = DatabaseWatch(self.store, timeout_s=cfg.ops.database_timeout_s,
                                      backoff_max_s=cfg.ops.database_backoff_max_s)

    @property
    def model(self) -> NLUModel:
        """The NLU model served (a receiver loads it here, on first use: bot/lazy_nlu.py)."""
        return self.nlu.model

    @model.setter
    def model(self, model: NLUModel) -> None:
        self.nlu.swap(model)  # from the next message on; messages being parsed finish on the old one

    def refresh_languages(self, warm: bool = True) -> None:
        """The brand's languages for the sticky reply language, read with the serving model's table of
        the brand's own words (`fancare train` writes it next to the model; the shipped one without)."""
        self.pipeline.set_languages(self.cfg.brand.all_languages(), self.cfg.brand.default_language,
                                    high_accuracy=self.cfg.nlu.language_accuracy == "high", warm=warm,
                                    table=model_language_table(self.cfg))

    @property
    def loaded_model(self) -> NLUModel | None:
        """The model if it is loaded, without loading it (what /metrics and the reload watcher ask)."""
        return self.nlu.loaded if isinstance(self.nlu, LazyNLUService) else self.nlu.model

    def _model_loaded(self, model: NLUModel) -> None:
        """A receiver's model, loaded on first use: the knowledge base reads the encoders it names, and
        the moderation heads trained with it load now too (an edit is judged on the model's embedding)."""
        self.kb.encoder_paths = model.encoder_paths
        if self.moderator.extractor.heads is None:
            self.moderator.extractor.heads = load_heads(model_root(self.cfg))

    async def watch_crisis(self, stop: asyncio.Event) -> None:
        """The crisis early warning, fed from the store, alerting through the operator port: every
        process watches, one of them alerts per episode (a claim per key for the cooldown)."""
        if self.crisis_watch is not None:
            from bot.ops.timer_claims import alert_once

            notify = alert_once(self.store, self.pipeline.crisis_alert, self.crisis_watch.monitor.cooldown * 60.0)
            await self.crisis_watch.run(notify, stop)

    def reload_model(self) -> NLUModel:
        """Swap in the newest trained model without dropping messages."""
        model = load_model(self.cfg)
        self.model = model  # NLUService.swap
        from moderation.signals import HEADS_FILE, ModerationHeads

        heads = ModerationHeads.load(model_root(self.cfg) / HEADS_FILE)  # trained by the same `fancare train`
        if heads is not None:
            self.moderator.extractor.heads = heads
        return model

    async def close_actions(self) -> None:
        """Close the action server's HTTP session inside the loop that opened it."""
        close = getattr(self.actions.remote, "close", None)
        if close is not None:
            await close()

    async def serving(self, work: Awaitable[T]) -> T:
        """Run `work` on this loop, then close what belongs to the loop (the action server session)."""
        try:
            return await work
        finally:
            await self.close_actions()

    def close(self) -> None:
        self.store.dispose()
