"""The native stack: Loki, Prometheus and Alertmanager on 127.0.0.1 without Docker."""

from provisioning.stack.runner import Stack, Status

__all__ = ["Stack", "Status"]
