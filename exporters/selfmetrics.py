"""tracklog_loki_* metrics: the push clients' own health, read from their counters at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from exporters.loki import client as client_module
from exporters.loki.client import LATENCY_BUCKETS, LokiClient


class LokiClientCollector:
    """A Collector over every live LokiClient in the process (label ``client`` = its spool name, which names the
    tenant for a tenant's own client; else ``client-<id>[-<tenant>]``)."""

    def collect(self) -> Iterator[Metric]:
        clients = list(client_module._LIVE_CLIENTS)
        sent = CounterMetricFamily("tracklog_loki_records_sent", "Records Loki accepted.", labels=["client"])
        accepted = CounterMetricFamily("tracklog_loki_records_accepted", "Records enqueued by callers.",
                                       labels=["client"])
        dropped = CounterMetricFamily("tracklog_loki_records_dropped", "Records given up on, by reason.",
                                      labels=["client", "reason"])
        refused = CounterMetricFamily("tracklog_loki_records_refused", "Records Loki answered 400 to, by its reason.",
                                      labels=["client", "reason"])
        retries = CounterMetricFamily("tracklog_loki_retries", "Push attempts that will be retried.",
                                      labels=["client"])
        spooled = CounterMetricFamily("tracklog_loki_records_spooled", "Records written to the disk spool.",
                                      labels=["client"])
        truncated = CounterMetricFamily("tracklog_loki_lines_truncated", "Lines cut to Loki's size limit.",
                                        labels=["client"])
        sent_bytes = CounterMetricFamily("tracklog_loki_sent_bytes", "Encoded bytes Loki accepted.",
                                         labels=["client"])
        depth = GaugeMetricFamily("tracklog_loki_queue_depth", "Records waiting in memory.", labels=["client"])
        queue_bytes = GaugeMetricFamily("tracklog_loki_queue_bytes", "Bytes waiting in memory.", labels=["client"])
        spool_bytes = GaugeMetricFamily("tracklog_loki_spool_bytes", "Bytes waiting in the disk spool.",
                                        labels=["client"])
        latency = HistogramMetricFamily("tracklog_loki_batch_duration_seconds", "Duration of successful pushes.",
                                        labels=["client"])
        for c in clients:
            # A client without a spool has no stable name; its tenant at least tells tenants' clients apart.
            name = c.spool.name if c.spool is not None else f"client-{id(c):x}{'-' + c.tenant if c.tenant else ''}"
            s = c.stats
            sent.add_metric([name], s.sent)
            accepted.add_metric([name], s.accepted)
            for reason, count in s.dropped.items():
                dropped.add_metric([name, reason], count)
            for reason, count in s.refused.items():
                refused.add_metric([name, reason], count)
            retries.add_metric([name], s.retries)
            spooled.add_metric([name], s.spooled)
            truncated.add_metric([name], s.truncated)
            sent_bytes.add_metric([name], s.bytes_sent)
            depth.add_metric([name], c.queue_depth)
            queue_bytes.add_metric([name], c.queue_bytes)
            spool_bytes.add_metric([name], c.spool.bytes if c.spool is not None else 0)
            cumulative, buckets = 0, []
            for bound, count in zip((*LATENCY_BUCKETS, float("inf")), s.latency_buckets, strict=True):
                cumulative += count
                buckets.append((str(bound) if bound != float("inf") else "+Inf", cumulative))
            latency.add_metric([name], buckets, s.latency_sum)
        yield from (sent, accepted, dropped, refused, retries, spooled, truncated, sent_bytes, depth, queue_bytes,
                    spool_bytes, latency)


_REGISTERED: set[int] = set()


def register(registry: CollectorRegistry = REGISTRY) -> None:
    """Register the collector once per registry."""
    if id(registry) not in _REGISTERED:
        registry.register(LokiClientCollector())
        _REGISTERED.add(id(registry))


__all__ = ["LokiClient", "LokiClientCollector", "register"]
