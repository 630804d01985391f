"""`config.yml`: one pydantic schema per section, `${VAR}` substitution, errors that name file/line/key.

Secrets (tokens, signing secrets, passwords) never live in the file: fields that hold one must be
written as `${ENV_VAR}` and are read from the environment at start.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from dialogs.waiting import SupportHours, WaitingRules, parse_ranges, parse_timezone
from nlu.yamlfile import DataError, load_located_file

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
SECRET_KEYS = {"token", "bot_token", "app_token", "signing_secret", "secret_token", "password"}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrandConfig(Section):
    name: str = "Voltora"
    default_language: str = "en"
    # the languages the brand answers in (`fancare data validate` reports translation coverage for each);
    # left out: the default language only
    languages: list[str] = Field(default_factory=list)

    @field_validator("languages")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        for code in v:
            if not re.fullmatch(r"[a-z]{2}", code):
                raise ValueError(f"{code!r} is not a two-letter ISO 639-1 code such as es")
        return v

    def all_languages(self) -> list[str]:
        """`languages`, or `[default_language]` when none are configured (the default always included)."""
        out = list(self.languages) or [self.default_language]
        return out if self.default_language in out else [self.default_language, *out]


class StoreConfig(Section):
    url: str = "sqlite:///fancare.db"
    echo: bool = False


Feature = Literal["minilm", "e5", "tfidf"]


def _default_features() -> list[Feature]:
    return ["tfidf"]


class NLUConfig(Section):
    training_data: list[str] = Field(default_factory=lambda: ["training_data"])
    model_dir: str = "models"
    encoder: Literal["minilm", "e5", "cascade"] = "cascade"
    fallback_threshold: float = Field(0.40, ge=0.0, le=1.0)
    min_examples_per_intent: int = Field(5, ge=1)
    regularization: float = Field(10.0, gt=0)
    max_text_chars: int = Field(1000, ge=16)
    # Extra head inputs, measured in BENCHMARKS.md. tfidf (on by default): a word + character n-gram
    # model averaged in at the share chosen by cross-validation (0 drops it); minilm/e5: the other
    # encoder's embedding concatenated to the head's input (off: not measured to help).
    features: list[Feature] = Field(default_factory=_default_features)
    # share of the TF-IDF model in the averaged probabilities; cv: chosen by cross-validation at training
    tfidf_weight: Annotated[float, Field(ge=0.0, le=1.0)] | Literal["cv"] = "cv"
    finetune: bool = False  # contrastive fine-tune of MiniLM on the training data (`fancare train`)
    # auto: enough epochs for about 3,000 example pairs, at most 4 (4 at 10 examples per intent, 1 from
    # 3,000 examples; nlu/finetune.py, BENCHMARKS.md section 2)
    finetune_epochs: Annotated[int, Field(ge=1, le=20)] | Literal["auto"] = "auto"
    # the fan's language (nlu/language.py): lingua's low-accuracy mode (~80 MB) or high (~320 MB, a few
    # points more accurate on 1-4 word messages; BENCHMARKS.md section 14)
    language_accuracy: Literal["low", "high"] = "low"
    # Out of scope (nlu/oos.py, BENCHMARKS.md section 16): "cv" chooses the confidence and similarity
    # thresholds by cross-validation on the training data, giving up at most `oos_cv_max_loss` of
    # in-scope accuracy; "fixed" falls back below `fallback_threshold` only. `fancare test nlu --val`
    # chooses them on a validation set with out_of_scope rows instead, by `oos_criterion`.
    oos_thresholds: Literal["cv", "fixed"] = "cv"
    oos_cv_max_loss: float = Field(0.02, ge=0.0, le=1.0)
    oos_criterion: Literal["recall_target", "balanced", "in_scope_loss"] = "recall_target"
    oos_recall_target: float = Field(0.85, ge=0.0, le=1.0)
    # the nearest-example vote blended into the head (weight chosen by cross-validation; nlu/knn.py)
    # and the distance used for out of scope; false: the plain head (BENCHMARKS.md section 16)
    knn: bool = True
    # a contrastive adapter on the frozen e5 vectors, trained with the heads (nlu/adapter.py)
    adapter: bool = False
    # a clause of a two-request message counts as a request of its own from this confidence
    secondary_threshold: float = Field(0.5, ge=0.0, le=1.0)
    # CPU threads of one encoder pass in a serving process (`fancare run`, `worker`, `shell`, `nlu parse`;
    # bot/encoder_threads.py): auto = one thread, and an e5 pass also takes the cores the rest of the
    # work (this process's own included) leaves idle (nlu/cores.py; BENCHMARKS.md section 19); a number
    # fixes it (1 never spins on cores something else needs); null: OMP_NUM_THREADS, else every core.
    # `fancare train` always uses every core
    threads: Annotated[int, Field(ge=1, le=256)] | Literal["auto"] | None = "auto"


class KnowledgeBaseConfig(Section):
    path: str = "knowledge_base/articles"
    threshold: float = Field(0.62, ge=0.0, le=1.0)
    answer_chars: int = Field(700, ge=80)


class ActionsConfig(Section):
    """A Rasa SDK action server for the brand's own custom actions (the names fancare does not ship)."""

    url: str | None = None  # e.g. http://localhost:5055/webhook
    timeout_s: float = Field(5.0, gt=0, le=60)


class DialogsConfig(Section):
    domain: str = "dialogs/domain.yml"
    flows: list[str] = Field(default_factory=lambda: ["dialogs/flows.yml"])
    # <lang>.yml files and phrases.yml (dialogs/translation_files.py); left out: `translations/` beside the domain
    translations: str | None = None

    def translations_dir(self, cfg: FancareConfig) -> Path:
        """Where the translations are: `translations`, or the `translations/` folder beside the domain."""
        if self.translations:
            return cfg.resolve(self.translations)
        return cfg.resolve(self.domain).parent / "translations"
    max_fallbacks: int = Field(2, ge=1)
    form_max_attempts: int = Field(2, ge=1)


class QueueConfig(Section):
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


def _day_hours(v: str) -> str:
    parse_ranges(v)
    return v


DayHours = Annotated[str, AfterValidator(_day_hours)]  # "09:00-18:00", "09:00-12:00, 13:00-17:00" or "closed"


class SupportHoursConfig(Section):
    """When a person is there (dialogs/waiting.py): `days: {mon: "09:00-18:00", sat: "10:00-14:00"}`,
    local time in `timezone`; a day left out is closed, "09:00-12:00, 13:00-17:00" splits a day."""

    timezone: str = "UTC"  # IANA name, e.g. Europe/Berlin
    days: dict[str, DayHours] = Field(default_factory=dict, validate_default=True)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        parse_timezone(v)
        return v

    @field_validator("days")
    @classmethod
    def _valid_days(cls, v: dict[str, str]) -> dict[str, str]:
        hours = SupportHours.parse("UTC", v)  # day names (each day's hours are checked by DayHours)
        if not hours.days:
            raise ValueError("no day has hours: give at least one (or leave support_hours out: always staffed)")
        return v

    def hours(self) -> SupportHours:
        return SupportHours.parse(self.timezone, self.days)


class EscalationConfig(Section):
    queues: dict[str, QueueConfig] = Field(
        default_factory=lambda: {
            "crisis": QueueConfig(priority="urgent"),
            "complaints": QueueConfig(priority="normal"),
            "refunds": QueueConfig(priority="normal"),
            "general": QueueConfig(priority="normal"),
        }
    )
    transcript_messages: int = Field(10, ge=1)
    # while a ticket waits for a person (dialogs/waiting.py)
    support_hours: SupportHoursConfig | None = None  # None: always staffed (no out-of-hours message)
    answer_while_waiting: bool = True  # FAQ questions answered from the knowledge base until claimed
    minutes_per_ticket: float = Field(6.0, gt=0)  # wait estimate per ticket ahead in the queue

    def waiting_rules(self) -> WaitingRules:
        return WaitingRules(hours=self.support_hours.hours() if self.support_hours else None,
                            answer_while_waiting=self.answer_while_waiting,
                            minutes_per_ticket=self.minutes_per_ticket)


class OrdersHttpConfig(Section):
    """The brand's shop API for `orders.adapter: http` (bot/order_http.py)."""

    url: str = ""  # e.g. https://shop.example.com/api/orders/{order_number}
    auth_header: str = "Authorization"
    auth_env: str | None = None  # the env var holding the header's value (the secret never lives in the file)
    timeout_s: float = Field(3.0, gt=0)
    retries: int = Field(2, ge=0, le=10)  # extra tries on a timeout, a connection error or a 5xx
    backoff_s: float = Field(0.2, ge=0)  # doubles after each try
    # JSON fields of the shop's answer for each Order field; a dotted path reaches into objects
    fields: dict[str, str] = Field(default_factory=lambda: {
        "order_number": "order_number", "status": "status", "product": "product", "eta": "eta",
        "placed_at": "placed_at", "email": "email", "postcode": "postcode"})

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and "{order_number}" not in v:
            raise ValueError("the URL needs an {order_number} placeholder, e.g. https://shop/api/orders/{order_number}")
        return v

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        known = {"order_number", "status", "product", "eta", "placed_at", "email", "postcode"}
        unknown = sorted(set(v) - known)
        if unknown:
            raise ValueError(f"unknown order field(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return v


class OrdersConfig(Section):
    adapter: Literal["csv", "http"] = "csv"
    demo_table: str = "dialogs/demo_orders.csv"
    http: OrdersHttpConfig = Field(default_factory=OrdersHttpConfig)
    # the brand's order-number format (a regex): never PII, masked as <order> in logs. Its first
    # capture group (the whole match without one) fills `{digits}` of `number_format`, the canonical
    # form orders are looked up by; `number_example` is quoted to fans as `{order_example}`
    number_pattern: str = r"\bVT[-\s\u2010-\u2015\u2212]?(\d{6})\b"
    number_format: str = "VT-{digits}"
    number_example: str = "VT-123456"
    # a second factor before status or product is shown: the order's email or postcode (a fan who
    # verified that order or that email earlier in the conversation is not asked again); none: no
    # check (any order by number: only for a shop whose order numbers are secret). On by default
    # because the rule is status and product only for the fan's own orders (README "Orders")
    verify: Literal["email_or_postcode", "none"] = "email_or_postcode"
    max_failed_verifications: int = Field(5, ge=1)  # then a polite refusal and the offer of a person
    verify_window_minutes: float = Field(60.0, gt=0)

    @field_validator("number_pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            rx = re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        if rx.groups > 1:
            raise ValueError("use at most one capture group (the part that fills {digits} of number_format)")
        return v

    @field_validator("number_format")
    @classmethod
    def _format(cls, v: str) -> str:
        if "{digits}" not in v:
            raise ValueError("number_format needs a {digits} placeholder, e.g. VT-{digits}")
        return v


class ModerationRule(Section):
    """One ordered rule: fires on `signal` >= `min_score`, on `pattern`, or on both (see moderation/rules.py)."""

    name: str
    pattern: str | None = None
    signal: str | None = None  # offensive, hate, spam, spam.<reason>, negative, flood, repeat, pii, pii.card, ...
    min_score: float = 0.5
    action: Literal["allow", "flag", "hide", "warn", "mute", "ban"] = "flag"
    strike: float | None = Field(None, ge=0)  # default: 1, or 0 for flag/allow
    mute_minutes: int = Field(60, ge=1)
    notice: bool = False  # short public notice in the group when enforced
    chats: list[str] | None = None  # only in these chat ids


class ModerationStrikesConfig(Section):
    decay_days: float = Field(30.0, gt=0)  # strikes older than this no longer count
    mute_after: float = Field(3.0, gt=0)
    ban_after: float = Field(5.0, gt=0)


class CrisisPlaybookConfig(Section):
    """What `/fancare crisis on` changes (moderation/playbook.py)."""

    holding_statement: str = (
        "We're aware that some of you are having problems and we're looking into it right now. "
        "We'll post updates here as soon as we know more. Thank you for your patience.")
    pin_chats: list[str] = Field(default_factory=list)  # Telegram group ids; empty: every group seen
    escalate_intents: list[str] = Field(default_factory=lambda: ["complaint", "refund_request"])
    queue: str = "complaints"  # where those escalations go
    pause_public_faq: bool = True


class CrisisConfig(Section):
    """Crisis early warning (moderation/crisis.py): the negative share of the last 5 and 10 minutes
    against a learned baseline share, with a binomial z (defaults as measured in BENCHMARKS.md §7)."""

    enabled: bool = True
    window_minutes: int = Field(10, ge=1)
    short_minutes: int = Field(5, ge=1)  # a second, shorter window (faster on sharp storms)
    z_threshold: float = Field(4.25, gt=0)
    min_count: int = Field(8, ge=1)  # negative messages in the window before anything can alarm
    ratio_threshold: float = Field(2.0, gt=1)  # and at least this multiple of the baseline
    cooldown_minutes: int = Field(60, ge=1)
    playbook: CrisisPlaybookConfig = Field(default_factory=CrisisPlaybookConfig)


class ModerationConfig(Section):
    dry_run: bool = False
    dry_run_chats: list[str] = Field(default_factory=list)  # record only, in these chats
    preset: Literal["none", "standard"] = "none"  # "standard": moderation.rules.STANDARD_RULES after `rules`
    rules: list[ModerationRule] = Field(default_factory=list)
    admins: list[str] = Field(default_factory=list)  # user ids never acted on
    trusted: list[str] = Field(default_factory=list)  # user ids at most flagged
    allowed_links: list[str] = Field(default_factory=list)  # hosts (and their subdomains) that are not spam
    # regions whose national phone formats the PII signal understands (the `phonenumbers` package)
    phone_regions: list[str] = Field(default_factory=lambda: ["NL", "DE", "ES", "FR", "GB", "US"])
    strikes: ModerationStrikesConfig = Field(default_factory=ModerationStrikesConfig)
    flood_window_s: float = Field(60.0, gt=0)
    notice_text: str = "A message was removed under the community rules ({rule})."
    appeal_queue: str = "moderation"
    training_data: str = "training_data/moderation"  # hand-written CC0 examples (moderation/train.py)
    # opt-in: `fancare train` also fine-tunes MiniLM on that data (one more encoder pass per message;
    # worth it with thousands of examples: BENCHMARKS.md section 6)
    finetune: bool = False
    finetune_epochs: int = Field(2, ge=1, le=20)
    crisis: CrisisConfig = Field(default_factory=CrisisConfig)


class RetentionDays(Section):
    """`privacy.retention_days`: per kind of data, days kept before the retention job deletes or
    anonymises it (`fancare privacy retention`, daily under `fancare run`); null keeps it forever.
    Nothing is deleted unless the config names a limit: an upgrade never drops a brand's history
    (the shipped config.yml sets the demo's limits)."""

    messages: int | None = Field(None, ge=1)  # message texts and payloads (rows stay, anonymised)
    transcripts: int | None = Field(None, ge=1)  # transcripts of closed escalations (emptied)
    nlu_results: int | None = Field(None, ge=1)  # intents, rankings and entities of messages (deleted)
    moderation: int | None = Field(None, ge=1)  # decided moderation items and strikes (deleted)
    slack_posts: int | None = Field(None, ge=1)  # delivered or dead Slack outbox rows (deleted)
    audit: int | None = Field(None, ge=1)  # audit events (deleted)


class PrivacyConfig(Section):
    retention_days: RetentionDays = Field(default_factory=RetentionDays)


class LoggingConfig(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    redact_personal_data: bool = True
    # json: one JSON object per line (time, level, logger, message) for log collectors; same redaction
    format: Literal["text", "json"] = "text"


class OpsConfig(Section):
    """`ops:` the operations endpoint of `fancare run` (bot/ops): /healthz, /readyz, /metrics, and
    how long a stop (SIGTERM/SIGINT) may take before what is unsent is left in the outbox."""

    enabled: bool = True
    host: str = "127.0.0.1"  # 0.0.0.0 in a container, so the orchestrator's probes reach it
    port: int = Field(9108, ge=0, le=65535)  # 0: any free port (tests)
    stop_deadline_s: float = Field(8.0, gt=0, le=300)  # under Docker's 10 s before SIGKILL
    database_timeout_s: float = Field(2.0, gt=0, le=60)  # a `SELECT 1` slower than this is unready
    database_backoff_max_s: float = Field(30.0, gt=0, le=600)  # cap of the retry backoff while it is down


class ShellChannelConfig(Section):
    user_id: str = "local-fan"
    display_name: str = "Local fan"


class TelegramWebhookConfig(Section):
    """Webhook mode: Telegram POSTs updates to `url`; we listen on `listen:port` + `path`."""

    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=0, le=65535)
    path: str = "/telegram"
    url: str | None = None  # public URL Telegram calls (behind your reverse proxy); set on start
    secret_token: SecretStr | None = None  # required in webhook mode: checked on every request
    max_body_bytes: int = Field(1_000_000, ge=1024)


class TelegramRateLimits(Section):
    """Outbound flood limits (Telegram's documented ones by default)."""

    overall_per_s: float = Field(30.0, gt=0)
    group_per_min: float = Field(20.0, gt=0)
    chat_per_s: float = Field(1.0, gt=0)  # private chats; short bursts of 3 allowed
    # kept in the database for every process together (bot/ops/rate_limits.py); auto: on PostgreSQL only,
    # where several workers may send; false: each process paces itself (fast, right for one process)
    shared: Literal["auto"] | bool = "auto"


class TelegramConfig(Section):
    """`channels.telegram` (owned by bot/channels/telegram.py)."""

    enabled: bool = True
    token: SecretStr
    mode: Literal["polling", "webhook"] = "polling"
    base_url: str | None = None  # self-hosted Bot API server, e.g. http://host:8081/bot (tests: the fake)
    webhook: TelegramWebhookConfig = Field(default_factory=TelegramWebhookConfig)
    poll_timeout_s: int = Field(30, ge=0, le=50)  # getUpdates long-poll
    private_chats: bool = True  # answer fans in private chats with the bot
    allowed_chats: list[int] | None = None  # groups the bot works in; None: every group it is in
    public_intents: list[str] = Field(default_factory=lambda: ["faq"])  # answered in groups unasked
    private_intents: list[str] = Field(default_factory=lambda: ["order_status", "refund_request", "complaint"])
    typing_indicator: bool = True
    # "typing..." only for a reply not out this soon: a fast answer needs none (and each is a Bot API call)
    typing_after_s: float = Field(1.0, ge=0, le=30)
    max_concurrency: int = Field(32, ge=1)  # updates processed at once
    # polling with several processes on one store: only the holder of this lease polls getUpdates; the
    # others take over at most ttl + 1 s after it stops renewing (bot/ops/leader.py)
    leader_ttl_s: float = Field(15.0, gt=0.5, le=300)
    rate_limits: TelegramRateLimits = Field(default_factory=TelegramRateLimits)


class SlackConfig(Section):
    """`channels.slack`: the operator console (owned by bot/channels/slack.py).

    Channels are Slack channel ids (C0123...) or names (#care); `operators` are Slack user ids.
    Only members of `operator_usergroup` or `operators` may act; with neither set, nobody may.
    """

    enabled: bool = True
    mode: Literal["socket", "http"] = "http"
    bot_token: SecretStr
    app_token: SecretStr | None = None  # socket mode (xapp-...)
    signing_secret: SecretStr | None = None  # http mode
    api_url: str | None = None  # Web API base, e.g. https://slack.com/api/ (tests: the fake server)
    listen: str = "127.0.0.1"
    port: int = Field(3000, ge=0, le=65535)
    path: str = "/slack/events"
    max_body_bytes: int = Field(1_000_000, ge=1024)
    default_channel: str = "#care"
    queue_channels: dict[str, str] = Field(default_factory=dict)  # queue -> channel id
    oncall_usergroup: str | None = None  # subteam id (S0123...) mentioned on crisis cards
    oncall_queues: list[str] = Field(default_factory=lambda: ["crisis"])
    operator_usergroup: str | None = None
    operators: list[str] = Field(default_factory=list)  # allow-listed Slack user ids
    # admins (Slack user ids, and members of the user group admin_group): ban, crisis playbook, poll and
    # giveaway create/close/draw, `/fancare privacy`, resolving another operator's ticket (slack_roles.py).
    # None configured: roles are off, every operator may do all of it (except privacy)
    admins: list[str] = Field(default_factory=list)
    admin_group: str | None = None  # subteam id (S0123...)
    note_prefix: str = "note:"
    # `/fancare poll create --file F` and `giveaway verify F` read only files inside this folder
    # (relative names); unset: Slack commands read no server files at all
    files_dir: str | None = None
    card_messages: int = Field(5, ge=1, le=20)  # last messages of the conversation on the card
    sla_minutes: dict[str, int] = Field(default_factory=lambda: {"urgent": 5, "high": 15, "normal": 60, "low": 240})
    sla_check_s: float = Field(30.0, gt=0)
    mask_personal_data: bool = True
    max_attempts: int = Field(8, ge=1)
    review_channel: str | None = None  # review digest (default: default_channel)
    digest_hour_utc: int | None = Field(9, ge=0, le=23)  # daily review digest; None: only `/fancare digest`
    digest_items: int = Field(5, ge=1, le=15)
    moderation_channel: str | None = None  # moderation review posts (default: queue "moderation"'s channel)
    moderation_review_actions: list[str] = Field(  # which verdicts get a review post with buttons
        default_factory=lambda: ["flag", "hide", "mute", "ban"])
    crisis_chart: bool = True  # attach a PNG chart of the last hours to early-warning alerts (files:write)


class ChannelsConfig(Section):
    shell: ShellChannelConfig = Field(default_factory=ShellChannelConfig)
    telegram: TelegramConfig | None = None
    slack: SlackConfig | None = None


class FancareConfig(Section):
    brand: BrandConfig = Field(default_factory=BrandConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    nlu: NLUConfig = Field(default_factory=NLUConfig)
    knowledge_base: KnowledgeBaseConfig = Field(default_factory=KnowledgeBaseConfig)
    dialogs: DialogsConfig = Field(default_factory=DialogsConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    orders: OrdersConfig = Field(default_factory=OrdersConfig)
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)

    # Where the file lives: relative paths in it are resolved against this directory.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: str = Field(default="<defaults>", exclude=True)

    def resolve(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (self.base_dir / p)

    def store_url(self) -> str:
        """SQLite paths are relative to the config file, not to the working directory."""
        url = self.store.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.resolve(url[len(prefix):]))
        return url


def _substitute(value: Any, path: tuple[str | int, ...], located: Any, file: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, (*path, str(k)), located, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*path, i), located, file) for i, v in enumerate(value)]
    if isinstance(value, str):
        key = str(path[-1]) if path else ""
        if key in SECRET_KEYS and value and not _ENV_REF.fullmatch(value.strip()):
            raise DataError(
                "secrets must not be written in the config file; use ${ENV_VAR}",
                file, located.line_of(path), ".".join(map(str, path)))

        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            raise DataError(f"environment variable {name} is not set", file,
                            located.line_of(path), ".".join(map(str, path)))

        return _ENV_REF.sub(repl, value)
    return value


#: what pydantic appends to an error's location for each branch of a union ("constrained-int", "literal['auto']")
_UNION_BRANCH = re.compile(r"^(constrained-\w+|literal\[.*\])$")


def _key_path(loc: tuple[int | str, ...]) -> tuple[str, ...]:
    """The config keys of an error's location, without pydantic's union-branch tags."""
    return tuple(str(x) for x in loc if not _UNION_BRANCH.match(str(x)))


def load_config(path: str | Path = "config.yml") -> FancareConfig:
    """Load and validate `path`. Raises DataError naming file, line and key."""
    p = Path(path)
    if not p.exists():
        raise DataError("config file not found", p)
    located = load_located_file(p)
    raw = located.data if located.data is not None else {}
    if not isinstance(raw, dict):
        raise DataError("top level must be a mapping", p, 1)
    data = _substitute(raw, (), located, str(p))
    try:
        cfg = FancareConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        err = errors[0]
        loc = _key_path(err["loc"])
        msg = err["msg"]
        alternatives = [e["msg"] for e in errors[1:] if _key_path(e["loc"]) == loc and e["msg"] != msg]
        if alternatives:  # a union ("a number or 'auto'"): every branch's reason, under the one key
            msg = "; or ".join([msg, *alternatives])
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "value_error":  # our own validators' messages, without pydantic's prefix
            msg = msg.removeprefix("Value error, ")
        raise DataError(msg, p, located.line_of(loc), ".".join(loc)) from None
    cfg.base_dir = p.resolve().parent
    cfg.source = str(p)
    return cfg


def secret(value: SecretStr | str | None) -> str | None:
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else value
