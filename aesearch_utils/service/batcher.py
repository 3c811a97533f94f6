"""Searches that arrive together for one gallery, decoded, encoded and searched as one batch.

One model call for many requests costs little more than for one, and one
exact search of many queries reads the gallery's vectors once. The first
request of a batch waits ``max_wait_s`` for others (at most ``max_batch``);
the batch then runs in the batcher's own worker thread, never on the event
loop, and each request gets its own rows back, or its own error. Under load,
requests queue while a batch runs, so batches grow by themselves.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from aesearch_utils.errors import InvalidInputError
from aesearch_utils.search.index import SearchResult
from aesearch_utils.search.vector_index import search_on_one_core
from aesearch_utils.service.metrics import ServiceMetrics
from aesearch_utils.service.uploads import Upload, decode_upload
from aesearch_utils.store.gallery import Gallery


class QueryBatcher:
    def __init__(
        self,
        gallery: Gallery,
        metrics: ServiceMetrics,
        max_batch: int = 64,
        max_wait_s: float = 0.002,
    ) -> None:
        self.gallery = gallery
        self.metrics = metrics
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        # one core for FAISS in this thread: its OpenMP threads would otherwise take both
        # cores from the event loop that parses the next requests (the load benchmark's
        # per-stage times show what each side costs)
        self._thread = ThreadPoolExecutor(
            1, thread_name_prefix=f"search-{gallery.name}", initializer=search_on_one_core
        )

    async def search(self, data: bytes, k: int) -> tuple[Upload, SearchResult]:
        """The decoded upload and its top ``k``; raises the upload's own error."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run())
        answer = asyncio.get_running_loop().create_future()
        await self._queue.put((data, k, answer, time.perf_counter()))
        return await answer

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                if not self._queue.empty():  # what is waiting joins without a trip through
                    batch.append(self._queue.get_nowait())  # the loop, whatever the time
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except asyncio.TimeoutError:  # not the builtin before Python 3.11
                    break
            started = time.perf_counter()
            for *_, queued in batch:
                self.metrics.stage("queue", started - queued)
            self.metrics.batch_size.observe(len(batch))
            data = [item[0] for item in batch]
            k = max(item[1] for item in batch)
            try:
                decoded, hits = await loop.run_in_executor(self._thread, self._answer, data, k)
            except Exception as error:  # the search itself failed: every request hears it
                decoded, hits = [error] * len(batch), None
            row = 0  # the row of the next decoded upload in ``hits``
            for (_, own_k, future, _), upload in zip(batch, decoded, strict=True):
                if isinstance(upload, Exception):
                    if not future.done():  # a request whose client left is cancelled
                        future.set_exception(upload)
                    continue
                if not future.done():
                    ids, distances, labels = (
                        array[row : row + 1, :own_k]
                        for array in (hits.ids, hits.distances, hits.labels)
                    )
                    future.set_result((upload, SearchResult(ids, None, distances, labels)))
                row += 1

    def _answer(
        self, data: list[bytes], k: int
    ) -> tuple[list[Upload | Exception], SearchResult | None]:
        """Each upload decoded (or its error), and the top ``k`` of the decoded ones, in order."""
        start = time.perf_counter()
        decoded: list[Upload | Exception] = []
        for item in data:
            try:
                decoded.append(decode_upload(item, self.gallery.image_shape))
            except InvalidInputError as error:
                decoded.append(error)
        images = [upload.image for upload in decoded if isinstance(upload, Upload)]
        encoded = time.perf_counter()
        self.metrics.stage("decode", encoded - start, len(data))
        if not images:
            return decoded, None
        vectors = self.gallery.encode(np.stack(images))
        searched = time.perf_counter()
        self.metrics.stage("encode", searched - encoded, len(images))
        hits = self.gallery.search_vectors(vectors, k)
        self.metrics.stage("search", time.perf_counter() - searched, len(images))
        return decoded, hits

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._thread.shutdown(wait=False)
