"""Every request checked against Grafana's own OpenAPI spec (the subset of public/api-merged.json tracklog calls).

A request whose method and path the spec does not have, a missing required parameter, or a body that does not
match the body parameter's schema is a violation. The look-alike records violations and answers as Grafana would;
the tests assert there are none, so tracklog cannot send something Grafana's spec does not describe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema

from tests.grafana_lookalike import evidence


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # e.g. /v1/provisioning/folder/{FolderUID}/rule-groups/{Group}
    pattern: re.Pattern[str]
    parameters: tuple[dict[str, Any], ...]


class SpecChecker:
    def __init__(self) -> None:
        spec = evidence.spec()
        self.base = spec.get("basePath", "/api")
        self.definitions = spec["definitions"]
        self.operations: list[Operation] = []
        for template, item in spec["paths"].items():
            shared = item.get("parameters", [])
            regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in item.items():
                if method == "parameters":
                    continue
                self.operations.append(Operation(method.upper(), template, regex,
                                                 tuple(shared) + tuple(op.get("parameters", []))))
        # Literal paths before templated ones: /datasources/name/{name} must not shadow nothing, but
        # /v1/provisioning/alert-rules must win over /v1/provisioning/alert-rules/{UID} for its own path.
        self.operations.sort(key=lambda o: o.template.count("{"))
        self._validators: dict[tuple[str, str, str], Any] = {}

    def _validator(self, template: str, method: str, which: str, schema: dict[str, Any]) -> Any:
        key = (template, method, which)
        if key not in self._validators:
            self._validators[key] = jsonschema.Draft4Validator({**schema, "definitions": self.definitions})
        return self._validators[key]

    def operation(self, method: str, path: str) -> Operation | None:
        if not path.startswith(self.base + "/") and path != self.base:
            return None
        rest = path[len(self.base):]
        return next((o for o in self.operations if o.method == method and o.pattern.match(rest)), None)

    def check(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
              body: Any) -> list[str]:
        """The ways this request departs from the spec (empty when it conforms)."""
        op = self.operation(method, path)
        if op is None:
            return [f"{method} {path}: no such operation in Grafana's API spec"]
        problems = []
        lowered = {k.lower() for k in headers}
        for param in op.parameters:
            where, name = param.get("in"), param.get("name", "")
            if where == "query" and param.get("required") and name not in query:
                problems.append(f"{method} {op.template}: required query parameter {name} missing")
            elif where == "header" and param.get("required") and name.lower() not in lowered:
                problems.append(f"{method} {op.template}: required header {name} missing")
            elif where == "body":
                if body is None:
                    if param.get("required"):
                        problems.append(f"{method} {op.template}: required body missing")
                    continue
                validator = self._validator(op.template, method, "body", param["schema"])
                for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
                    where_in = "/".join(str(p) for p in error.absolute_path) or "(body)"
                    problems.append(f"{method} {op.template}: body {where_in}: {error.message[:300]}")
        return problems


def _resolve_response(spec_doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:  # '#/responses/name'
        return spec_doc["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


class ResponseChecker(SpecChecker):
    """The look-alike's own answers, checked against the same spec: a status it documents and a body of its schema."""

    def check_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        op = self.operation(method, path)
        if op is None:
            return []
        spec_doc = evidence.spec()
        responses = spec_doc["paths"][op.template][method.lower()].get("responses", {})
        if str(status) not in responses:
            return [f"{method} {op.template}: status {status} is not one the spec documents ({sorted(responses)})"]
        response = _resolve_response(spec_doc, responses[str(status)])
        schema = response.get("schema")
        if schema is None or body is None:
            return []
        validator = self._validator(op.template, method, str(status), schema)
        body = _without_nulls(body)
        return [f"{method} {op.template} -> {status}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: "
                f"{e.message[:300]}" for e in validator.iter_errors(body)]


def _without_nulls(value: Any) -> Any:
    """Go's encoder writes a nil pointer or map as null, which Swagger 2.0 cannot declare (it has no nullable):
    Grafana answers `"record": null` for a rule field typed as an object. Nulls are dropped before validating."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
