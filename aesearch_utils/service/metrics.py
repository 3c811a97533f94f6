"""What the service has done, for Prometheus: ``GET /metrics`` in its text format.

- ``aesearch_requests_total{route, method, status}`` and
  ``aesearch_request_seconds{route}`` (a histogram): every answered request;
- ``aesearch_search_stage_seconds{stage}``: each search request's share of
  each stage (``read_body``, ``queue``, ``decode``, ``encode``, ``search``,
  ``respond``), which says where a search's time goes;
- ``aesearch_search_batch_size``: how many searches were encoded together;
- ``aesearch_gallery_items{gallery}``: the size of each public gallery.

Each app has its own registry (a test makes many apps in one process), not
``prometheus_client``'s global one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

SEARCH_STAGES = ("read_body", "queue", "decode", "encode", "search", "respond")
_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _GallerySizes(Collector):
    def __init__(self, sizes: Callable[[], Iterable[tuple[str, int]]]) -> None:
        self.sizes = sizes

    def collect(self):
        family = GaugeMetricFamily(
            "aesearch_gallery_items", "Images in each public gallery", labels=["gallery"]
        )
        for name, items in self.sizes():
            family.add_metric([name], items)
        yield family


class ServiceMetrics:
    def __init__(self, public_gallery_sizes: Callable[[], Iterable[tuple[str, int]]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aesearch_requests", "HTTP requests answered", ["route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "aesearch_request_seconds", "Time from a request's start to its answer's end",
            ["route"], buckets=_SECONDS, registry=self.registry,
        )  # fmt: skip
        self.stages = Histogram(
            "aesearch_search_stage_seconds", "Each search request's share of each stage",
            ["stage"], buckets=_SECONDS, registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "aesearch_search_batch_size", "Searches encoded and searched together",
            buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry,
        )  # fmt: skip
        self.registry.register(_GallerySizes(public_gallery_sizes))
        self._stage = {stage: self.stages.labels(stage) for stage in SEARCH_STAGES}

    def stage(self, stage: str, seconds: float, requests: int = 1) -> None:
        """``seconds`` spent on ``stage`` for ``requests`` searches together: each its share."""
        share = seconds / requests
        for _ in range(requests):
            self._stage[stage].observe(share)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
