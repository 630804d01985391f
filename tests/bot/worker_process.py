"""A `fancare worker` process for tests/bot/test_workers.py: the real runner in the worker role, with
leases short enough for a test to wait out, and a line per processed message in a file.

    python -m tests.bot.worker_process CONFIG RECORD_FILE LEASE_S CONCURRENCY

The record (`message_id conversation_id replies`, appended as each `Pipeline.process` returns) is how
the test sees which worker handled which message; the processing itself is the real pipeline's."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.app import App
from bot.config import load_config
from bot.logs import setup_logging
from bot.runner import run


def main(config: str, record: str, lease_s: float, concurrency: int) -> int:
    cfg = load_config(config)
    setup_logging(cfg.logging.level, cfg.logging.redact_personal_data, cfg.orders.number_pattern)
    app = App(cfg)
    app.pipeline.inbound_lease_s = lease_s
    app.store.conversation_lease_s = lease_s
    real = app.pipeline.process
    out = Path(record)

    async def process(message_id: int, conversation_id: int) -> int:
        replies = await real(message_id, conversation_id)
        with out.open("a") as f:
            f.write(f"{message_id} {conversation_id} {replies}\n")
        return replies

    app.pipeline.process = process  # type: ignore[method-assign]
    try:
        return asyncio.run(app.serving(run(app, role="worker", concurrency=concurrency)))
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
