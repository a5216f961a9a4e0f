"""``python -m demo``: run the four services, drive a time-compressed day of traffic, inject incidents."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import requests

from demo import SERVICES, expect, frontend, incidents, processes
from demo.alerts import AlertPrinter
from demo.browser import BrowserUsers
from demo.cdp import find_chromium
from demo.directory import BRUTE_FORCE_IP
from demo.service import load_config
from demo.traffic import Client, SimClock, Traffic, load_factor
from provisioning.config import Config
from provisioning.errors import RenderError
from provisioning.review import rules as review_rules


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n")[0].strip("`: "))
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--day-seconds", type=float, default=600.0, help="real seconds per simulated day (600)")
    p.add_argument("--start-hour", type=float, default=6.0, help="simulated time of day at start (6.0)")
    p.add_argument("--rate", type=float, default=1.0, help="traffic scale; 1.0 is ~4 req/s by day, ~3x at lunch")
    p.add_argument("--incidents", action=argparse.BooleanOptionalAction, default=True,
                   help="inject the scheduled incidents (default) or run quiet")
    p.add_argument("--incident-start", type=float, default=60.0, help="seconds after start of the first (60)")
    p.add_argument("--incident-gap", type=float, help="seconds between incidents (default: a quarter day)")
    p.add_argument("--db-slowdown-seconds", type=float, default=240.0,
                   help="length of the DB slowdown (240: its 5xx share outlasts the error-rate alert's `for`)")
    p.add_argument("--brute-force-seconds", type=float, default=45.0, help="length of the brute-force run (45)")
    p.add_argument("--stuffing-seconds", type=float, default=30.0, help="length of the credential-stuffing run (30)")
    p.add_argument("--env", help="the env label for every record and target (default: tracklog.yaml's env)")
    p.add_argument("--config", help="tracklog.yaml (default $TRACKLOG_CONFIG or ./tracklog.yaml)")
    p.add_argument("--seed", type=int, help="random seed for the traffic")
    p.add_argument("--status-every", type=float, default=30.0, help="print a status line this often (0: never)")
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=None,
                   help="drive users in one headless chromium through the Faro-instrumented tracking page (default: "
                        "on when chromium and the page bundle, `make faro-page`, exist)")
    p.add_argument("--browser-actions-per-minute", type=float, default=6.0, help="the browser users' pace (6)")
    p.add_argument("--browser-error-share", type=float, default=0.1,
                   help="share of browser actions that hit the page's JavaScript bug (0.1)")
    return p.parse_args(argv)


def browser_plan(wanted: bool | None) -> tuple[str | None, str | None]:
    """(the chromium to drive users in, or None; why not)."""
    if wanted is False:
        return None, "--no-browser"
    chromium = find_chromium()
    reason = "no chromium on PATH (`tracklog stack build` installs it)" if chromium is None else frontend.missing()
    return (None, reason) if reason else (chromium, None)


def expected_lines(expectations: list[expect.Expected], why_not: str | None) -> list[str]:
    if why_not:
        return [f"alerts each incident should page: unknown ({why_not})"]
    if not expectations:
        return []
    lines = ["alerts each incident should page (tracklog.yaml's rules, relative to start; Alertmanager's group_wait "
             f"{expectations[0].group_wait:g}s included):"]
    for e in expectations:
        lines.append(f"  {e.incident + ':':<21} {e.describe()}")
    return lines


def banner(loki: str, prometheus: str, env: str, children: list[processes.Child], schedule: incidents.Schedule,
           args: argparse.Namespace, browser_line: str = "", expectations: list[str] | None = None) -> str:
    web = next((c.url for c in children if c.name == "web"), "")
    sel = f'env="{env}"'
    lines = [
        f"tracklog demo: delivery tracking, env={env}, one simulated day per {args.day_seconds:g}s "
        f"(starting {int(args.start_hour):02d}:00)",
        f"  Loki        {loki}",
        f"  Prometheus  {prometheus}",
        "  Grafana     not available natively (no UI build here): `docker compose up -d` gives the UI at "
        "http://localhost:3000; `tracklog validate` checks the dashboards' queries against Loki and Prometheus",
        "services (127.0.0.1):",
        *(f"  {c.name:<15} {c.url:<24} metrics :{c.metrics_port}  pid {c.process.pid}" for c in children),
        f"tracking page {web}/ (Grafana Faro's Web SDK; its collector is mounted at {web}/collect, the browser's "
        f"records are service=\"{frontend.BROWSER_SERVICE}\")" if not frontend.missing() else
        f"tracking page: not served: {frontend.missing()}",
        *([browser_line] if browser_line else []),
        "incidents (relative to start):",
        *(f"  {line}" for line in schedule.describe()),
        *(expectations or []),
        "try in Loki (LogQL):",
        f'  {{service="tracking-api", {sel}}} | json | http_response_status_code >= 500',
        f'  sum by (client_address) (count_over_time({{service="auth", log_type="security", {sel}}} | json '
        f'| auth_outcome="failure" [5m]))',
        f'  {{log_type="security", {sel}}} | json | client_address="{BRUTE_FORCE_IP}"',
        f'  {{log_type="audit", {sel}}} | json | event_name="permission.change"',
        f'  {{{sel}, service=~"web|tracking-api"}} | json | trace_id="<a trace_id from a web record>"',
        f'  {{{sel}, service="{frontend.BROWSER_SERVICE}"}} | json | event_name="error"   '
        f'(then `tracklog trace <its trace_id>`)',
        "try in Prometheus (PromQL):",
        f'  sum(rate(http_server_requests_total{{service="tracking-api", {sel}, status_class="5xx"}}[1m])) '
        f'/ sum(rate(http_server_requests_total{{service="tracking-api", {sel}}}[1m]))',
        f'  histogram_quantile(0.95, sum by (le, route) (rate(http_server_request_duration_seconds_bucket'
        f'{{service="tracking-api", {sel}}}[1m])))',
        f"  sum by (service) (rate(db_query_timeouts_total{{{sel}}}[1m]))",
        "alerts: Prometheus and Loki evaluate tracklog's rules; what Alertmanager delivers is printed here "
        "as it fires (after `make provision`), and what it holds for this env as the demo sees it; at the end, "
        "which expected alerts paged.",
        f"afterwards: tracklog review alerts --since 1h --match env={env}   (the backtest of every rule on this "
        "run's history)",
        f"Ctrl-C stops everything{'' if args.duration is None else f' (or after {args.duration:g}s)'}.",
    ]
    return "\n".join(lines)


def status_line(started: float, clock: SimClock, client: Client, traffic: Traffic,
                users: BrowserUsers | None = None) -> str:
    parts = []
    for service, counts in sorted(client.summary().items()):
        total = sum(counts.values())
        parts.append(f"{service} {total} (5xx {100.0 * counts['5xx'] / max(total, 1):.1f}%)")
    shed = f", shed {traffic.shed}" if traffic.shed else ""
    if users is not None:
        parts.append(users.summary())
    return (f"[+{time.time() - started:5.0f}s] sim {clock.label()} load {load_factor(clock.hour()):.1f}x  "
            + ", ".join(parts) + shed)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    config = load_config(args.config)
    chromium, why_not = browser_plan(args.browser)
    if args.browser and why_not:
        print(f"demo: --browser: {why_not}", file=sys.stderr)
        return 2
    env = args.env or config.env
    loki, prometheus = config.endpoints.loki.url, config.endpoints.prometheus
    try:
        requests.get(f"{loki}/ready", timeout=2)
    except requests.RequestException:
        print(f"warning: Loki does not answer at {loki} (run `tracklog stack up`); records are spooled meanwhile",
              file=sys.stderr)

    printer: AlertPrinter | None = None
    try:
        printer = AlertPrinter(config.stack.ports["alertmanager_webhook"])
    except OSError as exc:
        print(f"demo: alerts are not printed here: port {config.stack.ports['alertmanager_webhook']} is taken "
              f"({exc.strerror})", file=sys.stderr)
    started = time.time()
    schedule = incidents.Schedule.plan(
        started, enabled=args.incidents, first=args.incident_start,
        gap=args.incident_gap if args.incident_gap is not None else args.day_seconds / 4,
        db_seconds=args.db_slowdown_seconds, brute_force_seconds=args.brute_force_seconds,
        stuffing_seconds=args.stuffing_seconds)
    slowdown = schedule.db_slowdown()
    expectations, unknown = plan_expectations(config, schedule)
    clock = SimClock(started, args.day_seconds, args.start_hour)
    client = Client()
    children: list[processes.Child] = []
    traffic: Traffic | None = None
    users: BrowserUsers | None = None
    watch: expect.AlertWatch | None = None
    exit_code = 0
    try:
        injected = ["--db-slowdown", slowdown.arg()] if slowdown else []
        api = processes.start("tracking-api", env, config.path, *injected)
        children.append(api)
        children.append(processes.start("web", env, config.path, "--upstream", api.url))
        children += [processes.start(name, env, config.path) for name in ("auth", "courier-ingest")]
        urls = {c.name: c.url for c in children}
        traffic = Traffic(urls, clock, client, stop, rate=args.rate, seed=args.seed)
        browser_line = (f"browser users: off: {why_not}" if why_not else
                        f"browser users: one headless {chromium} on the tracking page, "
                        f"~{args.browser_actions_per_minute:g} actions/min, {100 * args.browser_error_share:g}% "
                        f"hitting its JavaScript bug")
        print(banner(loki, prometheus, env, sorted(children, key=lambda c: SERVICES.index(c.name)), schedule, args,
                     browser_line, expected_lines(expectations, unknown)), flush=True)
        if expectations:
            watch = expect.AlertWatch(config.endpoints.alertmanager, env, started, stop, on_new=_show_seen).start()
        traffic.start()
        if chromium is not None:
            users = BrowserUsers(chromium, urls["web"], stop, actions_per_minute=args.browser_actions_per_minute,
                                 error_share=args.browser_error_share, seed=args.seed).start()
        incidents.start(schedule, client, urls["auth"], stop)
        next_status = time.time() + args.status_every
        while not stop.wait(0.5):
            now = time.time()
            if args.duration is not None and now - started >= args.duration:
                break
            dead = [c.name for c in children if c.process.poll() is not None]
            if dead:
                print(f"demo: {', '.join(dead)} exited unexpectedly; stopping", file=sys.stderr)
                exit_code = 1
                break
            if args.status_every > 0 and now >= next_status:
                print(status_line(started, clock, client, traffic, users), flush=True)
                next_status = now + args.status_every
    except processes.StartError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        exit_code = 1
    finally:
        stop.set()
        if users is not None:
            users.join()  # the browser closes before the web service it talks to
        codes = processes.stop_all(children)
        if printer is not None:
            printer.close()
    if codes:
        print("stopped: " + ", ".join(f"{name} (exit {code})" for name, code in codes.items()), flush=True)
    if traffic is not None:
        print(status_line(started, clock, client, traffic, users), flush=True)
    if watch is not None:
        watch.join()
        watch.poll()  # what arrived since the last look
        print(f"alerts of env={env} in Alertmanager, by incident:", flush=True)
        print("\n".join(expect.report(expectations, watch.fired(), time.time() - started, watch.error)), flush=True)
    if any(code != 0 for code in codes.values()):
        exit_code = 1
    return exit_code


def plan_expectations(config: Config, schedule: incidents.Schedule) -> tuple[list[expect.Expected], str | None]:
    """The alerts the schedule's incidents should fire with the config's rules, or why they are not known."""
    if not schedule.enabled:
        return [], None
    try:
        rules = review_rules.load(config)
    except RenderError as exc:
        return [], f"the rules did not render: {exc}"
    return expect.expected(schedule, rules, expect.group_wait(config.endpoints.alertmanager)), None


def _show_seen(seen: expect.Seen) -> None:
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted(seen.labels.items()) if k not in ("alertname", "env"))
    print(f"[+{seen.at:5.0f}s] Alertmanager holds {seen.alert} {{{labels}}} (to {', '.join(seen.receivers)})",
          flush=True)


if __name__ == "__main__":
    sys.exit(main())
