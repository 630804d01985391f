"""The demo model the tests share, trained once per version of the code and data.

Why a module of its own: training takes minutes on a loaded 2-core machine, longer than one test's
300 s timeout, and a session fixture that times out fails every test that needs the model. `make
test` therefore trains it first, with no timeout (`python -m tests.model_cache`), and the fixture in
tests/conftest.py only copies it from `.test-cache/`."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent


#: the example brand extension's model (tests/dialogs/test_warranty_example.py): the demo data plus its intent
WARRANTY = ("examples/warranty/nlu.yml",)


def cache_key(extra: tuple[str, ...] = ()) -> str:
    """A hash of the training data (plus `extra` files), the knowledge base, the NLU source code and the
    config defaults the model is trained with."""
    h = hashlib.sha256()
    for folder, pattern in (("training_data", "*"), *((str(Path(e).parent), Path(e).name) for e in extra),
                            ("knowledge_base/articles", "*.md"), ("nlu", "*.py"), ("knowledge_base", "*.py"),
                            ("bot", "config.py")):
        for f in sorted((REPO / folder).glob(pattern)):
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def trained_test_model(extra: tuple[str, ...] = (), name: str = "model") -> Path:
    """The cached model directory (the default encoder, cascade: MiniLM + e5 heads, and the KB vectors)
    trained on `training_data/` plus `extra`, as `fancare train` would; trained when missing."""
    cached = REPO / ".test-cache" / f"{name}-{cache_key(extra)}"
    if (cached / "LATEST").exists():
        return cached
    from bot.app import train_model
    from bot.config import FancareConfig
    from knowledge_base import KnowledgeBase

    cfg = FancareConfig()
    cfg.base_dir = REPO
    cfg.nlu.training_data = ["training_data", *extra]
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=cached.name + ".tmp", dir=cached.parent))
    try:
        started = time.perf_counter()
        model = train_model(cfg)
        model.save(tmp)
        KnowledgeBase(REPO / "knowledge_base" / "articles", cache_file=tmp / "kb-embeddings.npz").warm(list(model.heads))
        print(f"trained the test model {cached.name} in {time.perf_counter() - started:.1f} s")
        tmp.rename(cached)  # atomic: a concurrent run either sees the whole model or trains its own
    except OSError:
        if not (cached / "LATEST").exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cached


if __name__ == "__main__":
    print(f"test models: {trained_test_model()} {trained_test_model(WARRANTY, 'warranty-model')}")
