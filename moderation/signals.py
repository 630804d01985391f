"""Signals on every message: sentiment, toxicity (offensive, hate), spam, flood, PII, language.

One encoder pass per message: the trained heads read the embedding the NLU already computed
(`ParseResult.embedding`, from whichever encoder the cascade routed to); the TF-IDF half of each
head, the lexicons and the spam/PII rules read the normalised text (zalgo, homoglyphs and leetspeak
undone). Stored with the message in `nlu_results.signals` and shown in `fancare nlu parse`.
"""

from __future__ import annotations

import pickle
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moderation import lexicon
from moderation.normalize import normalize, zalgo_ratio
from moderation.pii import DEFAULT_PHONE_REGIONS, find_pii
from moderation.spam import FloodTracker, count_recent, spam_score
from nlu.language import detect_language

if TYPE_CHECKING:  # the heads' sklearn (~95 MB) comes with unpickling them, not with this module: a receiver
    # imports it and, without heads to load, never needs sklearn
    from moderation.heads import SignalHead

HEADS_FILE = "moderation-heads.pkl"
OWN_ENCODER = "moderation"  # heads on the opt-in fine-tuned encoder (moderation/train.py: train_finetuned)
OWN_ENCODER_DIR = "moderation-encoder"  # its SentenceTransformer directory, next to the heads file
# Commercial or lure wording: what turns the NLU's `spam` reading into a moderation signal. Customers
# whom the NLU misreads as spam (swearing, order numbers) ask for *their* order or account; spammers
# offer, sell, promise or send people elsewhere. Checked on the normalised text (homoglyphs undone).
PROMO = re.compile(
    r"\b(?:cheap(?:est)?|\d+ ?% off|promo ?codes?|coupon|bonus|casino|betting|jackpot|deposit|"
    r"earn(?:ed|ing)? (?:money|cash|\$|\d)|get paid|per hour|from home|followers|likes|views|"
    r"(?:and|to my) subscribe|subscribe to my|sub ?[4a] ?sub|sub back|follow back|like (?:my|yours)|f[4a]f|l[4a]l|"
    r"click|visit|link in (?:my )?bio|(?:check(?: out)?|see|on|in) my (?:profile|page|channel|shop|store|bio|"
    r"photo|post)|(?:dm|message|text|inbox|contact) (?:me|her|him|us|for)|whatsapp|selling|for sale|resale|"
    r"catalogue|catalog|order now|apply now|limited (?:time|offer|spots|positions)|singles|miracle|lose \d+ ?kg|"
    r"replica|crypto|\w*coin|doubler|token|wallet|presale|airdrop|nft|investing|investment|guaranteed|profits?|"
    r"passive income|free (?:followers|tickets?|money|netflix|gift|iphone|nft|crypto|bitcoin)|prize|giveaway|"
    r"signals? group|join my)\b|(?<![\w.%+-])@\w{3,}")  # a handle to follow, not the "@" of an email address
SCORED = ("offensive", "hate", "spam", "spam_intent", "negative", "positive", "flood", "repeat", "pii", "link", "zalgo",
          "emoji", "length")


@dataclass
class ModerationHeads:
    """Trained heads per encoder name ({"minilm": {"offensive": head, ...}, "e5": {...}}), plus
    the TF-IDF-only heads used when a message has no embedding (button payloads, empty text)."""

    by_encoder: dict[str, dict[str, SignalHead]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, normalized: str, encoder: str | None, embedding: np.ndarray | None) -> dict[str, dict[str, float]]:
        heads = self.by_encoder.get(encoder or "") or next(iter(self.by_encoder.values()), {})
        use_emb = encoder in self.by_encoder and embedding is not None
        out: dict[str, dict[str, float]] = {}
        for name, head in heads.items():
            X = embedding.reshape(1, -1) if use_emb and embedding is not None else None
            p = head.predict_proba([normalized], X)[0]
            out[name] = {lab: float(v) for lab, v in zip(head.labels, p, strict=True)}
        return out

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(self, f)
        tmp.replace(p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> ModerationHeads | None:
        p = Path(path)
        if not p.exists():
            return None
        with open(p, "rb") as f:
            obj = pickle.load(f)  # noqa: S301 - our own artifact, written by `fancare train`
        if not isinstance(obj, cls):
            return None
        own = obj.meta.get("own_encoder")
        obj.meta["own_encoder_path"] = str(p.parent / own) if own and (p.parent / own).is_dir() else None
        return obj

    def own_embedding(self, text: str) -> np.ndarray | None:
        """The fine-tuned moderation encoder's embedding of `text`, when `fancare train` made one."""
        path = self.meta.get("own_encoder_path")
        if not path or OWN_ENCODER not in self.by_encoder:
            return None
        from nlu.encoders import get_encoder
        from nlu.model import clean_text

        return get_encoder("minilm", str(path)).encode_queries([clean_text(text)])[0]


@dataclass
class Signals:
    sentiment: str = "neutral"
    sentiment_score: float = 0.5
    negative: float = 0.0
    positive: float = 0.0
    offensive: float = 0.0
    hate: float = 0.0
    spam: float = 0.0
    spam_reasons: list[str] = field(default_factory=list)
    nlu_spam: float = 0.0  # the NLU's probability for the `spam` intent (its ranking), 0 without one
    spam_intent: float = 0.0  # nlu_spam when the text also has a spam reason or commercial wording, else 0
    links: int = 0
    flood: int = 0  # messages from this sender in this chat within the flood window
    repeat: int = 0  # earlier copies of this same text within the window
    pii: dict[str, int] = field(default_factory=dict)
    language: str = "und"
    zalgo: float = 0.0
    emoji: float = 0.0  # share of emoji / symbol characters
    length: int = 0
    source: str = "lexicon"  # "heads" when trained heads scored it

    def score(self, name: str) -> float:
        """Numeric value of a signal for rules: "offensive", "pii" (count), "pii.card", "spam.crypto"..."""
        if name.startswith("pii."):
            return float(self.pii.get(name[4:], 0))
        if name.startswith("spam."):
            return 1.0 if name[5:] in self.spam_reasons else 0.0
        if name == "pii":
            return float(sum(self.pii.values()))
        if name == "link":
            return float(self.links)
        value = getattr(self, name, None)
        if isinstance(value, (int, float)):
            return float(value)
        raise KeyError(f"unknown signal {name!r}")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = round(v, 4)
        return d


def read_spam_intent(sig: Signals, normalized: str, intents: list[tuple[str, float]] | None) -> None:
    """Set `nlu_spam` and `spam_intent`. The NLU recognises commercial spam the rule-based `spam`
    score misses (no link, no crypto words: "BUY CHEAP FOLLOWERS 10K FOR $5"), but it also reads some
    angry or terse customers as spam; requiring a spam reason or commercial wording as well keeps
    those customers out (BENCHMARKS.md section 13). Adds the reason "promo" when that wording is there."""
    sig.nlu_spam = float(dict(intents or []).get("spam", 0.0))
    if sig.nlu_spam <= 0.0:
        return
    if PROMO.search(normalized) and "promo" not in sig.spam_reasons:
        sig.spam_reasons.append("promo")
    sig.spam_intent = sig.nlu_spam if sig.spam_reasons else 0.0


def _emoji_share(text: str) -> float:
    if not text:
        return 0.0
    sym = sum(1 for c in text if unicodedata.category(c) in ("So", "Sk", "Cs") or 0x1F000 <= ord(c) <= 0x1FAFF)
    return sym / len(text)


class SignalExtractor:
    """Turns (text, embedding) into `Signals`. Heads are optional: without them lexicons score."""

    def __init__(self, heads: ModerationHeads | None = None, *, allowed_hosts: set[str] | None = None,
                 flood_window_s: float = 60.0, phone_regions: list[str] | tuple[str, ...] | None = None,
                 order_pattern: str | None = None) -> None:
        self.heads = heads
        self.allowed_hosts = set(allowed_hosts or ())
        self.phone_regions = tuple(phone_regions or DEFAULT_PHONE_REGIONS)
        self.order_pattern = order_pattern
        self.flood = FloodTracker(window_s=flood_window_s)

    def extract(self, text: str, *, embedding: np.ndarray | None = None, encoder: str | None = "minilm",
                sender: str = "", chat: str = "", language: str | None = None, now: float | None = None,
                recent: list[tuple[str, float]] | None = None,
                intents: list[tuple[str, float]] | None = None) -> Signals:
        """`recent`: the sender's earlier messages in this chat from the store, [(text, arrival time
        in epoch seconds)], with `now` this message's arrival; None counts flood in memory.
        `intents`: the NLU's ranking for the message ([(intent, probability)]), for `spam_intent`."""
        norm = normalize(text)
        sig = Signals(length=len(text), zalgo=round(zalgo_ratio(text[:5000]), 4), emoji=round(_emoji_share(text[:5000]), 4))
        sig.language = language if language not in (None, "und") else detect_language(norm or text[:500])[0]
        lex_off, lex_hate = lexicon.offensive_score(norm), lexicon.hate_score(norm)
        if self.heads is not None and self.heads.by_encoder and norm:
            own = self.heads.own_embedding(text) if self.heads.meta.get("own_encoder_path") else None
            scores = (self.heads.predict(norm, OWN_ENCODER, own) if own is not None
                      else self.heads.predict(norm, encoder, embedding))
            sig.source = "heads"
            if "sentiment" in scores:
                s = scores["sentiment"]
                sig.sentiment = max(s, key=lambda k: s[k])
                sig.sentiment_score = s[sig.sentiment]
                sig.negative, sig.positive = s.get("negative", 0.0), s.get("positive", 0.0)
            sig.offensive = max(scores.get("offensive", {}).get("yes", 0.0), lex_off)
            sig.hate = max(scores.get("hate", {}).get("yes", 0.0), lex_hate)
        else:
            sig.sentiment, sig.sentiment_score = lexicon.sentiment(norm)
            sig.negative = sig.sentiment_score if sig.sentiment == "negative" else (1 - sig.sentiment_score) / 2
            sig.positive = sig.sentiment_score if sig.sentiment == "positive" else (1 - sig.sentiment_score) / 2
            sig.offensive, sig.hate = lex_off, lex_hate
        sig.spam, sig.spam_reasons = spam_score(norm, text[:5000], self.allowed_hosts)
        sig.links = sig.spam_reasons.count("link")
        read_spam_intent(sig, norm, intents)
        sig.pii = find_pii(text, regions=self.phone_regions, order_pattern=self.order_pattern)
        if recent is not None and now is not None:
            sig.flood, sig.repeat = count_recent(norm, [(normalize(t), at) for t, at in recent], now,
                                                 self.flood.window_s)
        elif sender:
            sig.flood, sig.repeat = self.flood.observe(chat, sender, norm, now)
        return sig
