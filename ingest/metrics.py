"""Prometheus metrics of the receiver, in a registry of its own (one per app)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("waitpoint_webhooks_received", "Requests received", ["source"],
                                registry=r)
        self.verified = Counter("waitpoint_webhooks_verified", "Requests whose signature passed",
                                ["source"], registry=r)
        self.rejected = Counter("waitpoint_webhooks_rejected", "Requests refused, by reason",
                                ["source", "reason"], registry=r)
        self.duplicates = Counter("waitpoint_webhooks_duplicates",
                                  "Redeliveries answered without a second signal", ["source"],
                                  registry=r)
        self.unrouted = Counter("waitpoint_webhooks_unrouted",
                                "Accepted callbacks no route matched", ["source"], registry=r)
        self.signals = Counter("waitpoint_signals_delivered", "Jobs reached by signals",
                               ["source"], registry=r)
        self.shed = Counter("waitpoint_webhooks_shed", "Requests refused (503) because too "
                            "many were in flight, before reading them", registry=r)
        self.batch_size = Histogram("waitpoint_inbox_batch_size", "Events per group commit",
                                    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500), registry=r)
        self.latency = Histogram("waitpoint_webhook_seconds", "Request latency",
                                 ["source", "status"],
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5),
                                 registry=r)


class SourceMetrics:
    """The per-source children, bound once: a label lookup per request is measurable."""

    def __init__(self, metrics: Metrics, source: str) -> None:
        self.received = metrics.received.labels(source)
        self.verified = metrics.verified.labels(source)
        self.duplicates = metrics.duplicates.labels(source)
        self.unrouted = metrics.unrouted.labels(source)
        self.signals = metrics.signals.labels(source)
        self._metrics = metrics
        self._source = source
        self._latency: dict[int, Any] = {}

    def latency(self, status: int) -> Any:
        child = self._latency.get(status)
        if child is None:
            child = self._latency[status] = self._metrics.latency.labels(self._source,
                                                                         str(status))
        return child

    def rejected(self, reason: str) -> Any:
        return self._metrics.rejected.labels(self._source, reason)
