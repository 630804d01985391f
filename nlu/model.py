"""The trained NLU model: one intent head per encoder, entity rules, routing, a versioned artifact.

Routing (`encoder: cascade`): English messages go to MiniLM (fast, batches well), everything else
to multilingual e5. `minilm` or `e5` use that encoder for every message.
"""

from __future__ import annotations

import json
import pickle
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from nlu.classifier import IntentClassifier
from nlu.encoders import get_encoder
from nlu.entities import EntityExtractor
from nlu.language import detect_language
from nlu.training_data import TrainingData

FORMAT_VERSION = 1
OUT_OF_SCOPE = "out_of_scope"
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][\w.-]*)(?P<ents>\{.*\})?$", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str, max_chars: int = 1000) -> str:
    """What the encoders see: no control/bidi characters, no lone surrogates, bounded length."""
    text = text.encode("utf-8", "replace").decode("utf-8", "replace") if _has_surrogates(text) else text
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())[:max_chars]


def _has_surrogates(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@dataclass
class ParseResult:
    text: str
    intent: str
    confidence: float
    fallback: bool
    ranking: list[tuple[str, float]]
    entities: list[dict[str, Any]]
    language: str
    encoder: str | None
    model_version: str
    embedding: np.ndarray | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "fallback": self.fallback,
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in self.ranking],
            "entities": self.entities,
            "language": self.language,
            "encoder": self.encoder,
            "model_version": self.model_version,
        }


class NLUModel:
    def __init__(self, route: str, heads: dict[str, IntentClassifier], extractor: EntityExtractor,
                 threshold: float, meta: dict[str, Any], max_chars: int = 1000,
                 encoder_paths: dict[str, str] | None = None) -> None:
        self.route = route
        self.heads = heads
        self.extractor = extractor
        self.threshold = threshold
        self.meta = meta
        self.max_chars = max_chars
        self.encoder_paths = encoder_paths or {}

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "untrained"))

    @property
    def intents(self) -> list[str]:
        return next(iter(self.heads.values())).labels

    # -- training -------------------------------------------------------------------------
    @staticmethod
    def encoders_for(route: str) -> list[str]:
        return ["minilm", "e5"] if route == "cascade" else [route]

    @classmethod
    def train(cls, td: TrainingData, *, route: str = "cascade", threshold: float = 0.4, C: float = 10.0,
              max_chars: int = 1000, config_fingerprint: str = "", calibrate: bool = True,
              encoder_paths: dict[str, str] | None = None) -> NLUModel:
        texts, labels = td.texts_and_labels()
        if len(set(labels)) < 2:
            raise ValueError("at least two intents are needed to train")
        started = time.perf_counter()
        heads: dict[str, IntentClassifier] = {}
        paths = encoder_paths or {}
        cleaned = [clean_text(t, max_chars) for t in texts]
        for name in cls.encoders_for(route):
            enc = get_encoder(name, paths.get(name))
            X = enc.encode_queries(cleaned)
            heads[name] = IntentClassifier(C=C).fit(X, labels, calibrate=calibrate)
        fp = td.fingerprint()
        now = datetime.now(UTC)
        meta = {
            "format": FORMAT_VERSION,
            "version": now.strftime("%Y%m%d-%H%M%S") + "-" + fp[:8],
            "created_at": now.isoformat(),
            "data_fingerprint": fp,
            "config_fingerprint": config_fingerprint,
            "route": route,
            "encoders": list(heads),
            "intents": sorted(set(labels)),
            "examples": len(texts),
            "train_seconds": round(time.perf_counter() - started, 2),
            "temperature": {k: h.temperature for k, h in heads.items()},
        }
        return cls(route, heads, EntityExtractor.from_training_data(td), threshold, meta, max_chars, paths)

    # -- artifact -----------------------------------------------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        """Write `model_dir/<version>/` and point `model_dir/LATEST` at it (atomic rename)."""
        root = Path(model_dir)
        out = root / self.version
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "model.pkl", "wb") as f:
            pickle.dump({"route": self.route, "heads": self.heads, "extractor": self.extractor,
                         "threshold": self.threshold, "max_chars": self.max_chars,
                         "encoder_paths": self.encoder_paths}, f)
        (out / "meta.json").write_text(json.dumps(self.meta, indent=2))
        tmp = root / ".LATEST.tmp"
        tmp.write_text(self.version + "\n")
        tmp.replace(root / "LATEST")
        return out

    @classmethod
    def load(cls, path: str | Path) -> NLUModel:
        """Load a model directory, or the LATEST one under a models root."""
        p = Path(path)
        if (p / "LATEST").exists():
            p = p / (p / "LATEST").read_text().strip()
        if not (p / "model.pkl").exists():
            raise FileNotFoundError(f"no trained model in {path}; run `fancare train` first")
        meta = json.loads((p / "meta.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"model {p} has format {meta.get('format')}, expected {FORMAT_VERSION}; retrain")
        with open(p / "model.pkl", "rb") as f:
            state = pickle.load(f)  # noqa: S301 - our own artifact
        model = cls(state["route"], state["heads"], state["extractor"], state["threshold"], meta,
                    state.get("max_chars", 1000), state.get("encoder_paths"))
        for name in model.heads:  # warm the encoders now, not on the first fan message
            get_encoder(name, model.encoder_paths.get(name))
        return model

    # -- inference ----------------------------------------------------------------------------
    def route_for(self, text: str) -> tuple[str, str]:
        """Return (encoder name, language) for a cleaned text."""
        lang, _conf = detect_language(text)
        if self.route != "cascade":
            return self.route, lang
        return ("minilm" if lang == "en" else "e5"), lang

    def parse_payload(self, text: str) -> ParseResult | None:
        """`/intent` or `/intent{"entity": "value"}` (button payloads), like Rasa."""
        m = _PAYLOAD.match(text.strip())
        if not m:
            return None
        ents: list[dict[str, Any]] = []
        if m.group("ents"):
            try:
                spec = json.loads(m.group("ents"))
                ents = [{"entity": str(k), "value": str(v), "extractor": "payload"} for k, v in spec.items()]
            except (json.JSONDecodeError, AttributeError):
                return None
        intent = m.group("intent")
        return ParseResult(text, intent, 1.0, False, [(intent, 1.0)], ents, "und", None, self.version)

    def classify(self, text: str, encoder: str, embedding: np.ndarray, language: str) -> ParseResult:
        head = self.heads[encoder]
        probs = head.predict_proba(embedding.reshape(1, -1))[0]
        order = np.argsort(-probs)
        ranking = [(head.labels[i], float(probs[i])) for i in order[:10]]
        intent, conf = ranking[0]
        fallback = conf < self.threshold
        if fallback:
            intent = OUT_OF_SCOPE
        ents = [e.as_dict() for e in self.extractor.extract(text)]
        return ParseResult(text, intent, conf, fallback, ranking, ents, language, encoder, self.version, embedding)

    def parse(self, text: str) -> ParseResult:
        """Synchronous one-message parse (CLI, tests). The pipeline uses `NLUService` to batch."""
        payload = self.parse_payload(text)
        if payload:
            return payload
        cleaned = clean_text(text, self.max_chars)
        if not cleaned:
            return ParseResult(cleaned, OUT_OF_SCOPE, 0.0, True, [], [], "und", None, self.version)
        enc_name, lang = self.route_for(cleaned)
        vec = get_encoder(enc_name, self.encoder_paths.get(enc_name)).encode_queries([cleaned])[0]
        return self.classify(cleaned, enc_name, vec, lang)

    def parse_many(self, texts: list[str]) -> list[ParseResult]:
        """Batch parse (evaluation): one encoder call per routed group."""
        results: list[ParseResult | None] = [None] * len(texts)
        groups: dict[str, list[tuple[int, str, str]]] = {}
        for i, t in enumerate(texts):
            cleaned = clean_text(t, self.max_chars)
            if not cleaned:
                results[i] = ParseResult(cleaned, OUT_OF_SCOPE, 0.0, True, [], [], "und", None, self.version)
                continue
            enc, lang = self.route_for(cleaned)
            groups.setdefault(enc, []).append((i, cleaned, lang))
        for enc, items in groups.items():
            X = get_encoder(enc, self.encoder_paths.get(enc)).encode_queries([c for _, c, _ in items])
            for (i, c, lang), vec in zip(items, X, strict=True):
                results[i] = self.classify(c, enc, vec, lang)
        return [r for r in results if r is not None]
