"""courier-ingest: couriers' phones post their location every few minutes; bad fixes are rejected (422)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from demo.directory import COURIERS
from demo.web_kit import Request, Response, Router, WsgiApp
from exporters import schema

_KNOWN = frozenset(COURIERS)


class LocationRejected(ValueError):
    """A location update that fails validation."""


@dataclass(frozen=True)
class Fix:
    lat: float
    lon: float
    accuracy_m: float
    ts: float


def validate_fix(body: dict[str, object], now: float) -> Fix:
    try:
        fix = Fix(float(body["lat"]), float(body["lon"]), float(body.get("accuracy_m", 10.0)),  # type: ignore[arg-type]
                  float(body["ts"]))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as exc:
        raise LocationRejected(f"malformed location update: {exc}") from exc
    if not (-90 <= fix.lat <= 90 and -180 <= fix.lon <= 180) or not math.isfinite(fix.lat + fix.lon):
        raise LocationRejected(f"coordinates out of range: {fix.lat}, {fix.lon}")
    if fix.lat == 0.0 and fix.lon == 0.0:
        raise LocationRejected("position at 0,0 (no GPS fix yet)")
    if fix.accuracy_m <= 0:
        raise LocationRejected(f"accuracy must be positive, got {fix.accuracy_m}")
    if fix.ts > now + 30:
        raise LocationRejected(f"timestamp {fix.ts - now:.0f}s in the future (device clock skew)")
    return fix


def build(log: logging.Logger) -> WsgiApp:
    router = Router()

    @router.route("POST", "/couriers/{id}/location")
    def post_location(request: Request) -> Response:
        courier = request.params["id"]
        if courier not in _KNOWN:
            return 404, {"error": f"unknown courier {courier}"}
        try:
            fix = validate_fix(request.body, time.time())
        except LocationRejected as exc:
            log.warning("location update rejected: %s", exc, extra={
                schema.COURIER_ID: courier, schema.ERROR_TYPE: "ValidationError", schema.ERROR_MESSAGE: str(exc)})
            return 422, {"error": str(exc)}
        log.info("location update accepted", extra={
            schema.COURIER_ID: courier, "geo.lat": round(fix.lat, 5), "geo.lon": round(fix.lon, 5),
            "geo.accuracy_m": fix.accuracy_m, "location.age_s": round(max(0.0, time.time() - fix.ts), 3)})
        return 200, {"courier_id": courier, "accepted": True}

    return router
