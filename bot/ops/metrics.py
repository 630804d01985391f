"""`/metrics`: fancare's Prometheus metrics, in a registry of one App (never the process-global one,
so tests and tools can build several Apps in one process).

Two kinds of numbers:
- events counted as they happen, through the pipeline's `observer` hook (messages by channel, intent
  and action; moderation actions by action and rule; end-to-end latency to stored and to sent);
- state read at scrape time (queue depths and oldest pending ages from the store, with two cheap
  indexed queries; open escalations by queue; the pipeline's own send counters; the model version).
  A scrape while the database is down still answers: the store gauges are left out and
  `fancare_database_up` is 0.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.store import Escalation, Message, Store
from bot.store.models import epoch_seconds, utcnow

log = logging.getLogger("fancare.ops.metrics")

#: end-to-end latency buckets (seconds): the goal is p99 under 250 ms, a Telegram group limit costs seconds
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
INBOUND_PENDING = ("received", "processing")
OUTBOUND_PENDING = ("pending", "sending")
#: conversations whose first reply is not sent yet, remembered for the "sent" latency (bounded)
MAX_WAITING = 100_000


class OpsMetrics:
    """The pipeline observer and the registry behind `/metrics` for one App."""

    def __init__(self, store: Store, counters: Callable[[], dict[str, int]],
                 model_version: Callable[[], str | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter("fancare_messages", "Fan messages processed, by channel, intent and action",
                                ["channel", "intent", "action"], registry=self.registry)
        self.moderation = Counter("fancare_moderation_actions", "Moderation verdicts other than allow, by action "
                                  "and rule", ["action", "rule"], registry=self.registry)
        self.latency = Histogram("fancare_message_latency_seconds", "From a fan message being recorded to its "
                                 "replies stored (stage=stored) and to the first reply sent (stage=sent)",
                                 ["stage"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_StateCollector(store, counters, model_version))
        self._waiting: dict[int, float] = {}
        #: set by the Telegram channel in polling mode (bot/ops/leader.py): whether this process polls now
        self.polling_leader: Callable[[], bool] | None = None
        self.registry.register(_LeaderCollector(self))
        self.registry.register(_EncoderThreadsCollector())

    # -- the pipeline's observer hooks (bot/pipeline.py) -----------------------------------------------
    def processed(self, channel: str, conversation_id: int, received_at: float, debug: dict[str, Any],
                  replies: int) -> None:
        """A message was handled and its replies committed; `received_at`: when it was recorded (epoch s)."""
        now = time.time()
        self.messages.labels(channel, str(debug.get("intent") or "none"), _action(debug.get("action"))).inc()
        moderation = debug.get("moderation")
        if moderation and moderation != "allow":
            self.moderation.labels(str(moderation), str(debug.get("moderation_rule") or "none")).inc()
        self.latency.labels("stored").observe(max(0.0, now - received_at))
        if replies:
            if len(self._waiting) >= MAX_WAITING:
                self._waiting.clear()
            self._waiting.setdefault(conversation_id, received_at)  # the oldest message still waiting

    def sent(self, conversation_id: int) -> None:
        """A reply in `conversation_id` was accepted by the platform."""
        received_at = self._waiting.pop(conversation_id, None)
        if received_at is not None:
            self.latency.labels("sent").observe(max(0.0, time.time() - received_at))

    def render(self) -> bytes:
        """The Prometheus text exposition (runs the store queries: call it off the event loop)."""
        return generate_latest(self.registry)


def _action(action: Any) -> str:
    """The action label without per-conversation detail ("escalate:complaints" keeps its queue, which
    is bounded by config; free text after a second colon is cut) so label sets stay small."""
    text = str(action or "none")
    return ":".join(text.split(":")[:2])[:64]


class _LeaderCollector(Collector):
    """`fancare_polling_leader`: 1 while this process is the one polling Telegram's getUpdates, 0 while
    another process does; absent when nothing here polls (webhook mode, no Telegram)."""

    def __init__(self, metrics: OpsMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        leader = self.metrics.polling_leader
        if leader is None:
            return
        gauge = GaugeMetricFamily("fancare_polling_leader", "1 while this process holds the Telegram polling "
                                  "lease and polls getUpdates, 0 while it waits to take over")
        gauge.add_metric([], 1.0 if leader() else 0.0)
        yield gauge


class _EncoderThreadsCollector(Collector):
    """What `nlu.threads: auto` decided in this process (nlu/cores.py): e5 passes by the CPU threads
    each was given, and the cores the rest of the work used in the last window. Absent under a fixed
    thread count, where nothing is decided."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from nlu.encoders import pass_cores

        cores = pass_cores()
        if cores is None:
            return
        passes = CounterMetricFamily("fancare_e5_passes", "e5 encoder passes under nlu.threads: auto, by the CPU "
                                     "threads each was given", labels=["threads"])
        for n, count in sorted(dict(cores.given).items()):
            passes.add_metric([str(n)], float(count))
        yield passes
        if not math.isnan(cores.others):  # NaN until a first window has been measured
            busy = GaugeMetricFamily("fancare_e5_other_cores_busy", "Cores the rest of the machine's work (this "
                                     "process's outside its e5 passes included) used in the last window")
            busy.add_metric([], cores.others)
            yield busy


class _StateCollector(Collector):
    """Numbers read when Prometheus scrapes: the store's queues and escalations, the pipeline's
    send counters, the model version."""

    def __init__(self, store: Store, counters: Callable[[], dict[str, int]],
                 model_version: Callable[[], str | None]) -> None:
        self.store = store
        self.counters = counters
        self.model_version = model_version

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (nothing to pre-register)

    def collect(self) -> Iterator[Metric]:
        c = self.counters()
        for name, key, text in (
                ("fancare_send_retries", "send_retries", "Sends that failed and were scheduled again"),
                ("fancare_possible_duplicate_sends", "possible_duplicate_sends",
                 "Sends retried after their lease expired while in flight (the fan may have it twice)"),
                ("fancare_sent_messages", "sent", "Replies accepted by the platform"),
                ("fancare_send_dead", "send_dead", "Replies given up on (permanent errors or too many tries)"),
                ("fancare_pipeline_errors", "errors", "Messages answered with an apology after an error")):
            fam = CounterMetricFamily(name, text)
            fam.add_metric([], float(c.get(key, 0)))
            yield fam
        version = self.model_version()
        info = InfoMetricFamily("fancare_model", "The NLU model serving now")
        info.add_metric([], {"version": version or "none"})
        yield info
        up = GaugeMetricFamily("fancare_database_up", "1 when the store answered this scrape's queries")
        try:
            rows = self._store_state()
        except Exception as exc:  # noqa: BLE001 - a scrape during an outage still answers
            log.debug("metrics: store unreachable: %s", type(exc).__name__)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up
        yield from rows

    def _store_state(self) -> list[Metric]:
        now = epoch_seconds(utcnow())
        out: list[Metric] = []
        with self.store.session() as s:
            for direction, statuses in (("inbound", INBOUND_PENDING), ("outbound", OUTBOUND_PENDING)):
                dirn = "in" if direction == "inbound" else "out"
                count, oldest = s.execute(select(func.count(Message.id), func.min(Message.created_at)).where(
                    Message.direction == dirn, Message.status.in_(statuses))).one()
                depth = GaugeMetricFamily(f"fancare_{direction}_queue_depth",
                                          f"{direction.capitalize()} messages not finished yet ({', '.join(statuses)})")
                depth.add_metric([], float(count or 0))
                age = GaugeMetricFamily(f"fancare_{direction}_oldest_pending_age_seconds",
                                        f"Age of the oldest unfinished {direction} message (0 when none)")
                age.add_metric([], max(0.0, now - epoch_seconds(oldest)) if oldest is not None else 0.0)
                out += [depth, age]
            esc = GaugeMetricFamily("fancare_open_escalations", "Escalations open or claimed, by queue", labels=["queue"])
            for queue, n in s.execute(select(Escalation.queue, func.count(Escalation.id))
                                      .where(Escalation.state.in_(("open", "claimed"))).group_by(Escalation.queue)):
                esc.add_metric([queue], float(n))
            out.append(esc)
        return out
