"""How tracklog marks what it manages in Grafana, so that apply prunes what Git removed and nothing else.

Shared by validate (which checks rendered objects carry the marks) and the Grafana target (which prunes by them).
"""

from __future__ import annotations

MARKER_TAG = "tracklog"  # dashboards: the tag (in tracklog's folders)
# Alert rules: c.uid() (dashboards/lib/config.libsonnet, uidPrefix) gives every rule uid this prefix; a rule group
# holding such a rule in one of tracklog's folders is tracklog's. Group titles are not a marker.
RULE_PREFIX = "tl-"
CONTACT_PREFIX = "tl-"  # contact points: the uid prefix
TEMPLATE_PREFIX = "tracklog"  # notification template groups are named, not tagged: the name is the marker
PERMISSION_LEVELS = {"View": 1, "Edit": 2, "Admin": 4}  # Grafana's folder permission levels
TEMPLATE_ROLES = ("title", "message")  # what a contact point's `templates:` may set
