"""tracking-api: where is my order? Orders, courier positions and ETAs, read from (simulated) PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps

from demo.db import Database, PoolExhausted, QueryTimeout
from demo.directory import COURIERS, ORDERS, courier_of
from demo.incidents import DbSlowdown
from demo.web_kit import Request, Response, Router, WsgiApp
from exporters import schema

_KNOWN_ORDERS = frozenset(ORDERS)


class TrackingTimeout(Exception):
    """A lookup did not finish within the database's statement timeout (answered 504)."""


class DatabaseUnavailable(Exception):
    """The database could not serve the request at all (answered 500)."""


class NotFound(Exception):
    pass


def load_order(db: Database, order_id: str) -> dict[str, object]:
    try:
        db.execute("SELECT o.id, o.status, o.courier_id, o.eta_at FROM orders o WHERE o.id = $1", (order_id,), 0.004)
    except QueryTimeout as exc:
        raise TrackingTimeout(f"order {order_id}: lookup timed out") from exc
    except PoolExhausted as exc:
        raise DatabaseUnavailable(f"order {order_id}: {exc}") from exc
    if order_id not in _KNOWN_ORDERS:
        raise NotFound(f"no order {order_id}")
    return {"id": order_id, "status": "out_for_delivery", "courier_id": courier_of(order_id)}


def load_courier_position(db: Database, courier_id: str) -> dict[str, object]:
    try:
        db.execute("SELECT lat, lon, accuracy_m, recorded_at FROM courier_positions "
                   "WHERE courier_id = $1 ORDER BY recorded_at DESC LIMIT 1", (courier_id,), 0.008)
    except QueryTimeout as exc:
        raise TrackingTimeout(f"courier {courier_id}: position lookup timed out") from exc
    except PoolExhausted as exc:
        raise DatabaseUnavailable(f"courier {courier_id}: {exc}") from exc
    if courier_id not in COURIERS:
        raise NotFound(f"no courier {courier_id}")
    n = int(courier_id[2:])
    return {"courier_id": courier_id, "lat": 52.45 + n % 17 / 100, "lon": 13.3 + n % 23 / 100,
            "recorded_at": round(time.time() - n % 40, 3)}


def save_eta(db: Database, order_id: str, minutes: int) -> None:
    try:
        db.execute("UPDATE orders SET eta_at = now() + make_interval(mins => $2), updated_at = now() WHERE id = $1",
                   (order_id, minutes), 0.010)
        db.execute("INSERT INTO order_events (order_id, kind, payload) VALUES ($1, 'eta', $2)", (order_id, minutes),
                   0.005)
    except QueryTimeout as exc:
        raise TrackingTimeout(f"order {order_id}: ETA update timed out") from exc
    except PoolExhausted as exc:
        raise DatabaseUnavailable(f"order {order_id}: {exc}") from exc


def build(log: logging.Logger, slowdown: DbSlowdown | None = None) -> WsgiApp:
    db = Database(logging.getLogger("demo.tracking-api.db"), slowdown)
    router = Router()

    def db_errors(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Map the lookups' exceptions to answers; each error is logged where it is caught, with its origin."""

        @wraps(handler)
        def wrapper(request: Request) -> Response:
            ids = {schema.ORDER_ID: request.params["id"]} if "/orders/" in request.path else {
                schema.COURIER_ID: request.params["id"]}
            try:
                return handler(request)
            except NotFound as exc:
                return 404, {"error": str(exc)}
            except TrackingTimeout as exc:
                schema.error(log, exc, **ids)
                return 504, {"error": "the tracking store did not answer in time"}
            except DatabaseUnavailable as exc:
                schema.error(log, exc, **ids)
                return 500, {"error": "the tracking store is unavailable"}

        return wrapper

    @router.route("GET", "/orders/{id}/track")
    @db_errors
    def track(request: Request) -> Response:
        order = load_order(db, request.params["id"])
        return 200, {**order, "position": load_courier_position(db, str(order["courier_id"]))}

    @router.route("GET", "/couriers/{id}/location")
    @db_errors
    def courier_location(request: Request) -> Response:
        return 200, load_courier_position(db, request.params["id"])

    @router.route("POST", "/orders/{id}/eta")
    @db_errors
    def update_eta(request: Request) -> Response:
        minutes = request.body.get("eta_minutes")
        if not isinstance(minutes, int) or not 0 < minutes < 600:
            return 400, {"error": "eta_minutes must be an integer between 1 and 599"}
        if request.params["id"] not in _KNOWN_ORDERS:
            return 404, {"error": f"no order {request.params['id']}"}
        save_eta(db, request.params["id"], minutes)
        log.info("ETA updated", extra={schema.ORDER_ID: request.params["id"], "order.eta_minutes": minutes})
        return 200, {"order_id": request.params["id"], "eta_minutes": minutes}

    return router
