"""The trained NLU model: one intent head per encoder, entity rules, routing, a versioned artifact.

Routing (`encoder: cascade`): a head on each encoder; multilingual e5 serves every language at rest,
English too unless cross-validation on the brand's English examples found MiniLM's head surer there
(`english`); under load English is shed to MiniLM (fast, batches well). `minilm` or `e5` use that
encoder for every message.

Options measured in BENCHMARKS.md (all off by default):
- `features`: extra inputs of every head: another encoder's embedding, concatenated to the routed
  one ("minilm", "e5"), and/or "tfidf", a word+char n-gram model whose probabilities are averaged in;
- `finetune`: a contrastive fine-tune of MiniLM on the training examples (nlu/finetune.py), saved
  inside the model directory;
- `adapter`: the same contrastive objective on a small residual map of the frozen e5 vectors
  (nlu/adapter.py), read by e5's head and nearest-example vote, pickled with the heads.

Out of scope (nlu/oos.py): a message falls back when its blended confidence is below a threshold or
it is far from every training example; both thresholds are chosen on a validation set when one is
given (`calibrate_oos`), by cross-validation on the training data otherwise (`oos: cv`, the default).
Two requests in one message: `ParseResult.intents` ranks the intents of the two halves of a cut at a
conjunction cue or punctuation (nlu/clauses.py), when both halves are clear and differ (`with_cuts`).
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nlu.adapter import EmbeddingAdapter
from nlu.classifier import IntentClassifier, cv_folds, nll_temperature
from nlu.clauses import HALF_CONFIDENCE, MAX_CANDIDATES, WEAK_HALF_CONFIDENCE, Cut, candidate_cuts
from nlu.encoders import get_encoder, install_encoder
from nlu.entities import EntityExtractor
from nlu.gibberish import looks_like_gibberish, training_vocabulary
from nlu.language import route_language
from nlu.oos import Scored, Thresholds, choose, simulate_from_oof
from nlu.training_data import TrainingData

if TYPE_CHECKING:  # sklearn and scipy (~95 MB) come with training or unpickling a model, not with this module,
    # which the dialogs import: a receiver (bot/lazy_nlu.py) loads no model and so needs neither
    from nlu.tfidf import TfidfIntentModel

FORMAT_VERSION = 1
OUT_OF_SCOPE = "out_of_scope"
#: a message read whole as these is never split into two other requests (a crisis stays one, urgent)
SILENT_WHOLE = frozenset({"spam", "abuse", "crisis"})
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][\w.-]*)(?P<ents>\{.*\})?$", re.DOTALL)
ENCODERS = ("minilm", "e5")
ADAPTED = ("e5",)  # the encoders that get an adapter with `adapter=True` (MiniLM can be fine-tuned instead)
FEATURES = (*ENCODERS, "tfidf")
FINETUNED_DIR = "minilm-finetuned"
#: the TF-IDF model's shares tried by `text_weight="cv"` (0: the model is dropped)
TEXT_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
#: MiniLM serves English at rest when its head is surer than e5's there out of fold: McNemar's z of the
#: examples only one of the two gets right at least this, on at least `MIN_ENGLISH` English examples
ENGLISH_Z = 2.0
MIN_ENGLISH = 50
#: a TF-IDF weight must win this much out-of-fold accuracy over the next smaller one to be taken
TEXT_WEIGHT_MARGIN = 0.002
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
    # best cosine similarity to any training example (None: not classified, e.g. a button payload)
    similarity: float | None = None
    # the requests in the message, in the order written: the intents of the two halves of a cut when
    # both are clear (two for "where is my order and can I pay with klarna?"), else [intent]
    intents: list[tuple[str, float]] = field(default_factory=list)
    # the two requests as read, each its own half of the message (text, intent, entities), in the order
    # of `intents`; [] for one request. The dialog engine answers both from these.
    requests: list[ParseResult] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "fallback": self.fallback,
            "intent_ranking": [{"name": n, "confidence": round(c, 4)} for n, c in self.ranking],
            "intents": [{"name": n, "confidence": round(c, 4)} for n, c in self.intents],
            "similarity": None if self.similarity is None else round(self.similarity, 4),
            "entities": self.entities,
            "language": self.language,
            "encoder": self.encoder,
            "model_version": self.model_version,
        }


def _only_a_name(p: ParseResult) -> bool:
    """A half that is a product's name and at most a short word ("the buds pro | and the case stopped
    working"): a subject of the other half, not a request, however it reads (praise 0.86)."""
    spans = [(int(e["start"]), int(e["end"])) for e in p.entities if "start" in e and "end" in e]
    if not spans:
        return False
    rest = "".join(" " if any(a <= i < b for a, b in spans) else ch for i, ch in enumerate(p.text))
    words = [w for w in re.findall(r"\w+", rest) if not w.isdigit()]
    return len(words) == 0 or (len(words) == 1 and len(words[0]) <= 3)


class NLUModel:
    def __init__(self, route: str, heads: dict[str, IntentClassifier], extractor: EntityExtractor,
                 threshold: float, meta: dict[str, Any], max_chars: int = 1000,
                 encoder_paths: dict[str, str] | None = None, *, head_inputs: dict[str, list[str]] | None = None,
                 text_model: TfidfIntentModel | None = None, text_weight: float = 0.0,
                 oos: Thresholds | None = None, secondary_threshold: float = 0.5,
                 adapters: dict[str, EmbeddingAdapter] | None = None, text_temperature: float = 1.0,
                 english: str = "e5") -> None:
        self.route = route
        # with the cascade, the head that serves English at rest: chosen at training by cross-validation
        self.english = english
        self.heads = heads
        self.extractor = extractor
        # words seen in training data and lookups: never "unknown" to the gibberish guard
        self.vocabulary: frozenset[str] = training_vocabulary(
            [v for vals in extractor.lookups.values() for v in vals] + list(extractor.synonyms))
        self.threshold = threshold
        self.meta = meta
        self.max_chars = max_chars
        self.encoder_paths = encoder_paths or {}
        # head name -> the encoders whose embeddings it reads, concatenated in this order (routed first)
        self.head_inputs = head_inputs or {name: [name] for name in heads}
        self.text_model = text_model
        self.text_weight = text_weight if text_model is not None else 0.0
        # refitted on the blend with the TF-IDF model (1.0: a weight given in config, not chosen)
        self.text_temperature = text_temperature
        self.oos = oos or Thresholds(threshold)
        self.threshold = self.oos.prob
        self.secondary_threshold = secondary_threshold
        # encoder name -> the adapter its vectors pass through before any head reads them
        self.adapters = adapters or {}

    def adapt(self, encoder: str, vectors: np.ndarray) -> np.ndarray:
        """`vectors` of `encoder` as the heads read them: through its adapter when it has one."""
        adapter = self.adapters.get(encoder)
        return vectors if adapter is None else adapter.apply(vectors)

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
              encoder_paths: dict[str, str] | None = None, features: Sequence[str] = (),
              text_weight: float | str = "cv", finetune: bool = False, finetune_epochs: int | str = "auto",
              seed: int = 0, oos: str = "cv", oos_cv_max_loss: float = 0.02,
              secondary_threshold: float = 0.5, knn: bool = True, adapter: bool = False,
              entity_patterns: dict[str, tuple[str, str | None]] | None = None) -> NLUModel:
        """`oos`: "cv" chooses the out-of-scope thresholds by cross-validation on `td` (nlu/oos.py,
        criterion `in_scope_loss` within `oos_cv_max_loss`; needs `calibrate`), "fixed" uses
        `threshold` alone; `calibrate_oos` replaces either with thresholds chosen on a validation set.
        `knn=False` drops the nearest-example vote and distance (measured against it, section 16).
        `adapter`: train a contrastive adapter on the e5 vectors (nlu/adapter.py) and feed its output to
        the heads; calibration then refits one per cross-validation fold (`IntentClassifier.fit`).
        `finetune_epochs`: a number, or "auto" for enough epochs to see about 3,000 example pairs (at
        most 4; `nlu.finetune.auto_epochs`).
        `entity_patterns`: entity -> (regex, canonical format) from config, replacing the training
        data's regex (`orders.number_pattern` for `order_number`).
        `text_weight` (with `features=["tfidf"]`): the TF-IDF model's share of the blend, or "cv" to
        choose it by out-of-fold accuracy on `td` (`TEXT_WEIGHTS`; 0 drops the model), with a
        temperature refitted on the blend so that its confidences stay calibrated (needs `calibrate`
        and the nearest-example vote; 0.5 without them)."""
        texts, labels = td.texts_and_labels()
        if len(set(labels)) < 2:
            raise ValueError("at least two intents are needed to train")
        unknown = [f for f in features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown NLU features {unknown} (use {', '.join(FEATURES)})")
        if oos not in ("cv", "fixed"):
            raise ValueError(f"unknown out-of-scope threshold mode {oos!r} (use cv or fixed)")
        if isinstance(text_weight, str) and text_weight != "cv":
            raise ValueError(f"unknown TF-IDF weight {text_weight!r} (a number in [0, 1] or cv)")
        started = time.perf_counter()
        heads: dict[str, IntentClassifier] = {}
        paths = dict(encoder_paths or {})
        cleaned = [clean_text(t, max_chars) for t in texts]
        head_inputs = {name: [name, *[f for f in ENCODERS if f in features and f != name]]
                       for name in cls.encoders_for(route)}
        needed = {e for inputs in head_inputs.values() for e in inputs}
        finetune_seconds = None
        if isinstance(finetune_epochs, str) and finetune_epochs != "auto":
            raise ValueError(f"unknown fine-tune epochs {finetune_epochs!r} (a whole number or auto)")
        epochs = None
        if finetune and "minilm" in needed:
            from nlu.finetune import auto_epochs, finetune_minilm

            t0 = time.perf_counter()
            epochs = auto_epochs(len(cleaned)) if isinstance(finetune_epochs, str) else finetune_epochs
            paths["minilm"] = str(finetune_minilm(cleaned, labels, epochs=epochs, seed=seed,
                                                  base_path=paths.get("minilm")))
            finetune_seconds = round(time.perf_counter() - t0, 2)
        vectors = {name: get_encoder(name, paths.get(name)).encode_queries(cleaned) for name in sorted(needed)}
        adapters = ({name: EmbeddingAdapter.fit(vectors[name], labels, seed=seed) for name in ADAPTED if name in needed}
                    if adapter else {})
        for name, inputs in head_inputs.items():
            X = np.hstack([adapters[e].apply(vectors[e]) if e in adapters else vectors[e] for e in inputs])
            folds = _fold_features(vectors, inputs, adapters, labels, seed) if any(e in adapters for e in inputs) else None
            heads[name] = IntentClassifier(C=C, seed=seed).fit(X, labels, calibrate=calibrate, knn=knn,
                                                               fold_features=folds)
        primary = heads["e5" if route == "cascade" else route]
        english, english_choice = "e5", None
        oof = primary.oof
        if route == "cascade" and all(h.oof is not None for h in heads.values()):
            is_en = np.array([route_language(t)[0] == "en" for t in cleaned])
            english, english_choice = _choose_english_head(heads, is_en)
            if english != "e5":
                oof = _served_oof(heads, english, is_en)
        extractor = EntityExtractor.from_training_data(td)
        for entity, (pattern, canonical) in (entity_patterns or {}).items():
            extractor.use_pattern(entity, pattern, canonical)
        text_model, text_temperature, text_choice = None, 1.0, None
        weight = 0.5 if isinstance(text_weight, str) else float(text_weight)
        if "tfidf" in features:
            from nlu.tfidf import TfidfIntentModel

            text_model = TfidfIntentModel(seed=seed, names=extractor.lookups,
                                           patterns=extractor.regexes).fit(cleaned, labels)
            if text_weight == "cv" and oof is not None:
                tfidf_oof = text_model.out_of_fold(cleaned, labels, cv_folds(labels, seed), primary.labels)
                weight, text_temperature, text_choice = _choose_text_weight(oof[0], tfidf_oof, oof[2])
                oof = (_blend(oof[0], tfidf_oof, weight, text_temperature), oof[1], oof[2])
            if weight == 0.0:
                text_model = None  # not worth its memory or its microseconds
        thresholds = Thresholds(threshold)
        if oos == "cv" and oof is not None:
            blended, sims, target = oof
            thresholds = choose(simulate_from_oof(blended, sims, target, primary.labels, OUT_OF_SCOPE),
                                "in_scope_loss", source="cv", max_loss=oos_cv_max_loss)
        for h in heads.values():
            h.oof = None  # training-time material only
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
            "features": list(features),
            "head_inputs": head_inputs,
            "finetuned": finetune_seconds is not None,
            "finetune_seconds": finetune_seconds,
            "knn_weight": {k: h.knn_weight for k, h in heads.items()},
            "oos": thresholds.as_dict(),
        }
        if english_choice is not None:
            meta["english_head"] = {"encoder": english, **english_choice}
        if text_choice is not None:
            meta["text_weight"] = {"weight": weight, "temperature": round(text_temperature, 4), **text_choice}
        if epochs is not None:
            meta["finetune_epochs"] = epochs
        if adapters:  # only then, so that meta.json of the default model stays as it was
            meta["adapter"] = {k: a.info for k, a in adapters.items()}
        model = cls(route, heads, extractor, threshold, meta, max_chars, paths,
                    head_inputs=head_inputs, text_model=text_model, text_weight=weight,
                    oos=thresholds, secondary_threshold=secondary_threshold, adapters=adapters,
                    text_temperature=text_temperature, english=english)
        model.vocabulary = model.vocabulary | training_vocabulary(texts)
        return model

    def calibrate_oos(self, td: TrainingData, criterion: str = "recall_target",
                      recall_target: float = 0.85) -> Thresholds:
        """Choose the out-of-scope thresholds on labelled validation data with `out_of_scope` rows
        (never on the test data: that is what keeps the test report honest)."""
        texts, labels = td.texts_and_labels()
        if OUT_OF_SCOPE not in labels:
            raise ValueError(f"validation data has no '{OUT_OF_SCOPE}' examples: thresholds cannot be chosen on it")
        results = self.parse_many(texts)
        gib = np.array([looks_like_gibberish(r.text, r.language, self.vocabulary) for r in results])
        top = [r.ranking[0] if r.ranking else (OUT_OF_SCOPE, 0.0) for r in results]
        scored = Scored(prob=np.array([c for _, c in top]),
                        similarity=np.array([-1.0 if r.similarity is None else r.similarity for r in results]),
                        correct=np.array([n == y for (n, _), y in zip(top, labels, strict=True)]),
                        predicted_oos=np.array([n == OUT_OF_SCOPE for n, _ in top]) | gib,
                        is_oos=np.array([y == OUT_OF_SCOPE for y in labels]))
        self.oos = choose(scored, criterion, recall_target, source="val")
        self.threshold = self.oos.prob
        self.meta["oos"] = self.oos.as_dict()
        return self.oos

    # -- artifact -----------------------------------------------------------------------------
    def save(self, model_dir: str | Path) -> Path:
        """Write `model_dir/<version>/` and point `model_dir/LATEST` at it (atomic rename)."""
        root = Path(model_dir)
        out = root / self.version
        out.mkdir(parents=True, exist_ok=True)
        paths = dict(self.encoder_paths)
        if self.meta.get("finetuned") and "minilm" in paths:
            # The fine-tuned encoder travels with the model: copied in, referred to relatively.
            src, dst = Path(paths["minilm"]), out / FINETUNED_DIR
            if src.resolve() != dst.resolve():
                shutil.copytree(src, dst, dirs_exist_ok=True)
                install_encoder("minilm", get_encoder("minilm", str(src)), str(dst))
                self.encoder_paths["minilm"] = str(dst)
                if src.name.startswith("fancare-minilm-ft-"):  # the fine-tune's scratch copy
                    shutil.rmtree(src, ignore_errors=True)
            paths["minilm"] = FINETUNED_DIR
        with open(out / "model.pkl", "wb") as f:
            pickle.dump({"route": self.route, "heads": self.heads, "extractor": self.extractor,
                         "threshold": self.threshold, "max_chars": self.max_chars,
                         "encoder_paths": paths, "head_inputs": self.head_inputs,
                         "text_model": self.text_model, "text_weight": self.text_weight,
                         "text_temperature": self.text_temperature, "english": self.english,
                         "oos": self.oos, "secondary_threshold": self.secondary_threshold,
                         "vocabulary": sorted(self.vocabulary), "adapters": self.adapters}, f)
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
        paths = {k: (str(p / v) if not Path(v).is_absolute() else v)
                 for k, v in (state.get("encoder_paths") or {}).items()}
        model = cls(state["route"], state["heads"], state["extractor"], state["threshold"], meta,
                    state.get("max_chars", 1000), paths, head_inputs=state.get("head_inputs"),
                    text_model=state.get("text_model"), text_weight=state.get("text_weight", 0.0),
                    oos=state.get("oos"), secondary_threshold=state.get("secondary_threshold", 0.5),
                    adapters=state.get("adapters"), text_temperature=state.get("text_temperature", 1.0),
                    english=state.get("english", "e5"))
        model.vocabulary = model.vocabulary | frozenset(state.get("vocabulary", ()))
        # Warm the encoders now, not on the first fan message. With the cascade e5 serves at rest (and
        # MiniLM when it serves English), else MiniLM (torch: seconds to import) loads in the background,
        # ready for a burst.
        primary = "e5" if model.route == "cascade" else model.route
        for name in model.encoder_names:
            if name in (primary, model.english) or model.route != "cascade":
                get_encoder(name, model.encoder_paths.get(name))
            else:
                threading.Thread(target=get_encoder, args=(name, model.encoder_paths.get(name)),
                                 name=f"load-{name}", daemon=True).start()
        return model

    @property
    def encoder_names(self) -> list[str]:
        """Every encoder some head reads (the routed ones and the concatenated extras)."""
        return sorted({e for inputs in self.head_inputs.values() for e in inputs})

    # -- inference ----------------------------------------------------------------------------
    def route_for(self, text: str, busy: bool = False) -> tuple[str, str]:
        """Return (encoder name, language) for a cleaned text.

        `cascade` is load-adaptive: every message goes to multilingual e5 (the more accurate encoder,
        English included) while it keeps up; when e5 has a backlog (`busy`), English messages are
        shed to MiniLM, which batches several times faster, so throughput holds under a burst and
        only English messages pay a small accuracy cost, only while the burst lasts. When the training
        data showed MiniLM's head the better one on English (`english`, chosen by cross-validation:
        an English-only brand), English goes to MiniLM at rest as well."""
        lang, _conf = route_language(text)  # fast, no model: the fan's language is the pipeline's
        if self.route != "cascade":
            return self.route, lang
        return ("minilm" if lang == "en" and (busy or self.english == "minilm") else "e5"), lang

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

    def _extras(self, encoder: str, texts: list[str]) -> dict[str, np.ndarray]:
        """Embeddings of `texts` from the encoders a head reads besides the routed one."""
        return {e: get_encoder(e, self.encoder_paths.get(e)).encode_queries(texts)
                for e in self.head_inputs.get(encoder, [encoder])[1:]}

    def classify(self, text: str, encoder: str, embedding: np.ndarray, language: str,
                 extra: dict[str, np.ndarray] | None = None) -> ParseResult:
        """Intent for one cleaned text from its routed embedding (and the head's extra inputs;
        those are computed here when not given, which is what the pipeline's single messages do)."""
        head = self.heads[encoder]
        inputs = self.head_inputs.get(encoder, [encoder])
        if len(inputs) > 1:
            extra = extra if extra is not None else {k: v[0] for k, v in self._extras(encoder, [text]).items()}
            x = np.concatenate([self.adapt(encoder, embedding), *[self.adapt(e, extra[e]) for e in inputs[1:]]])
        else:
            x = self.adapt(encoder, embedding)
        prob_rows, sim_rows = head.scores(x.reshape(1, -1))
        probs, similarity = prob_rows[0], float(sim_rows[0])
        if self.text_model is not None and self.text_weight > 0:
            tp = self.text_model.predict_proba([text], head.labels)
            probs = _blend(probs.reshape(1, -1), tp, self.text_weight, self.text_temperature)[0]
        order = np.argsort(-probs)
        ranking = [(head.labels[i], float(probs[i])) for i in order[:10]]
        intent, conf = ranking[0]
        fallback = (conf < self.oos.prob or similarity < self.oos.similarity
                    or looks_like_gibberish(text, language, self.vocabulary))
        if fallback:
            intent = OUT_OF_SCOPE
        ents = [e.as_dict() for e in self.extractor.extract(text, language)]
        return ParseResult(text, intent, conf, fallback, ranking, ents, language, encoder, self.version, embedding,
                           similarity, [] if fallback else [(intent, conf)])

    @staticmethod
    def cuts(text: str, language: str | None) -> list[Cut]:
        """Where `text` may hold a second request: the few likeliest cuts (nlu/clauses.py), led by
        the dialog engine's own split before a question or request word ("... and can I pay with
        klarna?", dialogs/repair.py) when it finds one; each is checked by `with_cuts` on the
        classified halves. [] for most single requests."""
        from dialogs.repair import split_requests  # here: dialogs imports this module

        cuts = candidate_cuts(text, language)
        parts = split_requests(text)
        if len(parts) == 2:
            # a cut after "?" is punctuation, one at "and can I ..." is announced by its words
            dialog = Cut(parts[0], parts[1], 1, announced=not parts[0].endswith("?"), asked=True)
            cuts = [dialog, *[c for c in cuts if (c.first, c.second) != (dialog.first, dialog.second)]]
        return cuts[:MAX_CANDIDATES]

    def with_cuts(self, whole: ParseResult, halves: Sequence[tuple[Cut, ParseResult, ParseResult]]) -> ParseResult:
        """Fill `whole.intents` from the classified halves of the candidate cuts, in the order the fan
        wrote them. A cut counts when both halves are understood, clear `HALF_CONFIDENCE`
        (`WEAK_HALF_CONFIDENCE` at a bare "and" or a full stop; never less than the secondary
        threshold), name different intents, and the whole message, when understood, reads as one of
        the two or, at a second half asked outright ("... und wie lange dauert der Versand"), as
        anything but spam, abuse or a crisis; of those, the
        cut whose weaker half is surest wins. Without one the message is one request and `intents`
        stays [its intent].

        Which request is the message's `intent`: at a cut announced by a cue word ("refund pls also
        do u ship to spain") the first one, because the whole of two mixed requests leans to either
        one by chance; at punctuation or a bare "and" the whole's reading, because there the first
        sentence is as often context ("I got the Arc last month. It won't pair. How do I reset
        it?"). A whole that fell back but holds two clear requests is understood, as the first."""
        best: tuple[float, list[tuple[str, float]], Cut, list[ParseResult]] | None = None
        for cut, a, b in halves:
            floor = max(HALF_CONFIDENCE if cut.strength < 2 else WEAK_HALF_CONFIDENCE, self.secondary_threshold)
            if any(p.fallback or p.intent == OUT_OF_SCOPE or p.confidence < floor or _only_a_name(p) for p in (a, b)):
                continue
            # the whole read as a third thing: one request, unless the second half is asked outright
            # ("ich will eine Erstattung und wie lange dauert der Versand": the whole reads as an order
            # question) and the whole does not read as spam, abuse or a crisis
            other = not whole.fallback and whole.intent not in (a.intent, b.intent)
            if a.intent == b.intent or (other and (not cut.asked or whole.intent in SILENT_WHOLE)):
                continue
            weaker = min(a.confidence, b.confidence)
            if best is None or weaker > best[0]:
                best = (weaker, [(a.intent, a.confidence), (b.intent, b.confidence)], cut, [a, b])
        if best is None or (whole.fallback and looks_like_gibberish(whole.text, whole.language, self.vocabulary)):
            return whole
        _, found, cut, parts = best
        if whole.fallback or cut.announced:
            whole.intents, whole.requests = found, parts
            whole.intent, whole.confidence = found[0]
            whole.fallback = False
        else:  # the whole's reading first
            whole.requests = sorted(parts, key=lambda p: p.intent != whole.intent)
            whole.intents = [(p.intent, p.confidence) for p in whole.requests]
        return whole

    def parse(self, text: str, *, payload: bool = False) -> ParseResult:
        """Synchronous one-message parse (CLI, tests). The pipeline uses `NLUService` to batch.
        `payload=True` only for a button press: typed `/intent{...}` text is parsed as words."""
        forced = self.parse_payload(text) if payload else None
        if forced:
            return forced
        cleaned = clean_text(text, self.max_chars)
        if not cleaned:
            return ParseResult(cleaned, OUT_OF_SCOPE, 0.0, True, [], [], "und", None, self.version)
        enc_name, lang = self.route_for(cleaned)
        cuts = self.cuts(cleaned, lang)
        batch = [cleaned, *[h for c in cuts for h in (c.first, c.second)]]  # one encoder call for all
        vecs = get_encoder(enc_name, self.encoder_paths.get(enc_name)).encode_queries(batch)
        whole = self.classify(cleaned, enc_name, vecs[0], lang)
        if not cuts:
            return whole
        parts = [self.classify(h, enc_name, v, lang) for h, v in zip(batch[1:], vecs[1:], strict=True)]
        return self.with_cuts(whole, list(zip(cuts, parts[0::2], parts[1::2], strict=True)))

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
            batch = [c for _, c, _ in items]
            X = get_encoder(enc, self.encoder_paths.get(enc)).encode_queries(batch)
            extras = self._extras(enc, batch)
            for j, ((i, c, lang), vec) in enumerate(zip(items, X, strict=True)):
                results[i] = self.classify(c, enc, vec, lang, {k: v[j] for k, v in extras.items()})
        return [r for r in results if r is not None]


def _fold_features(vectors: dict[str, np.ndarray], inputs: list[str], adapters: dict[str, EmbeddingAdapter],
                   labels: list[str], seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """For `IntentClassifier.fit`: a head's input matrix as an adapter trained on one fold's rows
    alone maps it, so that out-of-fold confidences are those of messages the adapter never saw."""
    def features(rows: np.ndarray) -> np.ndarray:
        fold_labels = [labels[i] for i in rows]
        return np.hstack([EmbeddingAdapter.fit(vectors[e][rows], fold_labels, seed=seed).apply(vectors[e])
                          if e in adapters else vectors[e] for e in inputs])
    return features


def _blend(head: np.ndarray, text: np.ndarray, weight: float, temperature: float) -> np.ndarray:
    """The head's probabilities averaged with the TF-IDF model's, sharpened by `temperature`."""
    probs = (1 - weight) * head + weight * text
    if temperature == 1.0:
        return probs
    z = np.log(np.clip(probs, 1e-12, 1)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _choose_text_weight(head: np.ndarray, text: np.ndarray, target: np.ndarray
                        ) -> tuple[float, float, dict[str, float]]:
    """(weight, temperature, accuracies) of the TF-IDF model in the blend, by out-of-fold accuracy.

    A larger weight must beat the best smaller one by `TEXT_WEIGHT_MARGIN`: on data with few examples
    per intent in each language the n-gram model agrees with the training examples' wording more
    than real messages do, so a tie goes to the encoder. The temperature is then refitted on the
    blend (an average of two distributions is flatter than either), so that "0.9" still means right
    about 9 times in 10 for the flows' confidence thresholds."""
    accs = {w: float(np.mean(np.argmax((1 - w) * head + w * text, axis=1) == target)) for w in TEXT_WEIGHTS}
    best = 0.0
    for w in TEXT_WEIGHTS[1:]:
        if accs[w] > accs[best] + TEXT_WEIGHT_MARGIN:
            best = w
    temperature = 1.0
    if best > 0:
        blended = (1 - best) * head + best * text
        temperature = nll_temperature(np.log(np.clip(blended, 1e-12, 1)), target)
    return best, temperature, {"head_accuracy": round(accs[0.0], 4), "blend_accuracy": round(accs[best], 4)}


def _choose_english_head(heads: dict[str, IntentClassifier], is_en: np.ndarray) -> tuple[str, dict[str, float]]:
    """("minilm" or "e5", accuracies): which head serves English messages at rest, by out-of-fold
    accuracy on the English training examples, only when the difference is more than chance
    (`ENGLISH_Z`). e5 reads every language and is the default; MiniLM is the stronger English encoder
    on English-only intent sets with many examples (BANKING77, out of fold: 0.932 against e5's 0.924,
    z = 4) and several times faster, so a brand whose English data says so gets it. The demo's
    multilingual data says the opposite (z = -5)."""
    right: dict[str, np.ndarray] = {}
    for name in ("e5", "minilm"):
        oof = heads[name].oof
        assert oof is not None
        right[name] = np.argmax(oof[0][is_en], axis=1) == oof[2][is_en]
    only_minilm = int(np.sum(right["minilm"] & ~right["e5"]))
    only_e5 = int(np.sum(right["e5"] & ~right["minilm"]))
    z = (only_minilm - only_e5) / np.sqrt(only_minilm + only_e5) if only_minilm + only_e5 else 0.0
    choice = "minilm" if is_en.sum() >= MIN_ENGLISH and z >= ENGLISH_Z else "e5"
    n = max(int(is_en.sum()), 1)
    return choice, {"english_examples": int(is_en.sum()), "e5_accuracy": round(float(right["e5"].sum()) / n, 4),
                    "minilm_accuracy": round(float(right["minilm"].sum()) / n, 4), "z": round(float(z), 2)}


def _served_oof(heads: dict[str, IntentClassifier], english: str,
                is_en: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Out-of-fold scores of every example from the head that will serve it: English from `english`,
    the rest from e5. The two encoders' cosine similarities are on different scales, so when both
    serve, the similarity columns are 1.0 (the distance cut is never chosen; confidence alone)."""
    e5, other = heads["e5"].oof, heads[english].oof
    assert e5 is not None and other is not None
    probs = np.where(is_en[:, None], other[0], e5[0])
    sims = other[1] if is_en.all() else np.ones_like(e5[1])
    return probs, sims, e5[2]
