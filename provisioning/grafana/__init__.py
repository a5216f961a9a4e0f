"""Grafana as a provisioning target: the only package that talks to Grafana (through grafana-client).

``target`` reads live state and applies changes; ``normalize`` puts bodies in the form Grafana stores;
``notifications`` writes the alert-routing model as Grafana's bodies; ``applied`` remembers fingerprints of the
secrets it applied; ``api`` connects and turns failures into messages that name the URL.
"""

from provisioning.grafana.api import GrafanaError
from provisioning.grafana.notifications import CONTACT_PREFIX, TEMPLATE_FIELDS
from provisioning.grafana.target import (
    KIND_ORDER,
    MARKER_TAG,
    PERMISSION_LEVELS,
    RULE_PREFIX,
    TEMPLATE_PREFIX,
    GrafanaTarget,
)

__all__ = ["CONTACT_PREFIX", "KIND_ORDER", "MARKER_TAG", "PERMISSION_LEVELS", "RULE_PREFIX", "TEMPLATE_FIELDS",
           "TEMPLATE_PREFIX", "GrafanaError", "GrafanaTarget"]
