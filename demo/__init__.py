"""The delivery-tracking simulator: four services instrumented with ``exporters``, realistic traffic, incidents.

``python -m demo`` starts each service as its own process (``python -m demo.service <name>``), drives HTTP
traffic over a time-compressed day and injects incidents on a schedule; see ``python -m demo --help``.
"""

from __future__ import annotations

SERVICES = ("tracking-api", "courier-ingest", "auth", "web")
VERSION = "1.4.2"  # the simulated services' version, as logged in service.start/stop
