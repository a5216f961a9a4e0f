"""What tracklog sends to Grafana where secrets are involved: ``${VAR}`` references and contact-point URLs resolved
from the environment, the values kept aside for apply, and fingerprints in their place for the plan to compare."""

from __future__ import annotations

import os
import re
from typing import Any

from provisioning.grafana import normalize
from provisioning.grafana.applied import AppliedSecrets
from provisioning.grafana.notifications import SECURE_SETTINGS
from provisioning.grafana.notifications import contact_point as contact_point_body

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SecretBodies:
    """Builds the desired bodies that hold secrets. ``values`` maps a resource key to {field path: value};
    ``unset`` lists the variables that are named but not set (problems before any write)."""

    def __init__(self, applied: AppliedSecrets) -> None:
        self.applied = applied
        self.values: dict[tuple[str, str], dict[str, str]] = {}
        self.unset: list[str] = []

    def resolve(self, where: str, text: str) -> str:
        """A ``${VAR}`` reference (datasources name their secrets so) resolved from the environment."""

        def value(match: re.Match[str]) -> str:
            resolved = os.environ.get(match.group(1))
            if resolved is None:
                self.unset.append(f"{where} names ${match.group(1)}, which is not set")
                return ""
            return resolved

        return _ENV_REF.sub(value, text)

    def datasource(self, ds: dict[str, Any]) -> dict[str, Any]:
        where = f"datasource {ds['name']} (uid {ds['uid']})"
        resolved = {**ds}
        if isinstance(ds.get("basicAuthUser"), str):
            resolved["basicAuthUser"] = self.resolve(f"{where}: basicAuthUser", ds["basicAuthUser"])
        body = normalize.datasource(resolved)
        secure = {key: self.resolve(f"{where}: secureJsonData.{key}", str(value))
                  for key, value in (ds.get("secureJsonData") or {}).items()}
        if secure:
            self.values[("grafana-datasource", ds["uid"])] = {f"secureJsonData.{k}": v for k, v in secure.items()}
            body["secureJsonFields"] = {k: self.applied.fingerprint(v) for k, v in sorted(secure.items())}
        return body

    def contact_point(self, point: Any) -> dict[str, Any]:
        url = ""
        if point.type != "email":
            url = (os.environ.get(point.url_env) if point.url_env else None) or point.url
            if not url:
                self.unset.append(f"contact point {point.name} ({point.place}): ${point.url_env} is not set and "
                                   "no url is given; Grafana refuses a contact point without one")
        body = contact_point_body(point, url)
        secure = {key: body["settings"][key] for key in SECURE_SETTINGS.get(body["type"], ())
                  if body["settings"].get(key)}
        if secure:
            self.values[("grafana-contact-point", body["uid"])] = {f"settings.{k}": v for k, v in secure.items()}
            body["settings"].update({k: self.applied.fingerprint(v) for k, v in secure.items()})
        return body
