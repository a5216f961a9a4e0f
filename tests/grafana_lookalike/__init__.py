"""A Grafana look-alike for tests: an HTTP server whose behaviour comes from Grafana's own evidence.

Grafana 8+ is AGPL and may not run on our machines; this stands in for it. Each modelled behaviour cites its
evidence (a Grafana source path, or a file of ../shared/grafana-reference, read from there and never copied here).
"""

from tests.grafana_lookalike.server import Lookalike
from tests.grafana_lookalike.state import Grafana

__all__ = ["Grafana", "Lookalike"]
