"""The worker side's Prometheus metrics (`waitpoint work --metrics-port`): what this
process's jobs did, and, on the leader, what the database holds.

One registry per process. Counters and histograms are fed where outcomes are known (the
job runner, signal(), await_signal()); the gauges of queue depth and waiting jobs are
sampled from the database by the leader (DepthSampler), so N nodes do not each scan.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry()

JOBS = Counter("waitpoint_jobs", "Job executions by outcome (completed, cancelled, "
               "discarded, retryable, snoozed, awaiting)", ["queue", "worker", "outcome"],
               registry=REGISTRY)
DURATION = Histogram("waitpoint_job_duration_seconds", "Time in process(), per execution",
                     ["queue", "worker"], registry=REGISTRY,
                     buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300))
SIGNALS_SENT = Counter("waitpoint_signals_sent", "Jobs reached by signal() from this process",
                       registry=REGISTRY)
SIGNALS_CONSUMED = Counter("waitpoint_signals_consumed",
                           "Signals consumed by await_signal() in this process",
                           registry=REGISTRY)
QUEUE_DEPTH = Gauge("waitpoint_queue_jobs", "Unfinished jobs per queue and state (sampled "
                    "by the leader)", ["queue", "state"], registry=REGISTRY)
WAITING = Gauge("waitpoint_waiting_jobs", "Jobs snoozed waiting for a signal (leader)",
                registry=REGISTRY)
OLDEST_WAIT = Gauge("waitpoint_oldest_wait_seconds", "How long the longest waiting job has "
                    "waited (leader)", registry=REGISTRY)


def serve_metrics(port: int, host: str = "0.0.0.0") -> None:
    """Serve /metrics on `port` from a background thread (prometheus_client's server)."""
    start_http_server(port, addr=host, registry=REGISTRY)
