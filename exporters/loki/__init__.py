"""The Loki push client and its parts: encoding, transport, retry, spool, labels."""

from exporters.loki.client import ClientStats, LokiClient
from exporters.loki.encode import Entry
from exporters.loki.retry import Backoff
from exporters.loki.transport import HttpTransport, Response, TransportError

__all__ = ["Backoff", "ClientStats", "Entry", "HttpTransport", "LokiClient", "Response", "TransportError"]
