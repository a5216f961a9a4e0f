# tracklog — `make demo` runs the whole job on the native stack; `make test` runs every test.
SHELL := /bin/bash
PY := .venv/bin/python
TRACKLOG := .venv/bin/tracklog
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: faro-page compose-config venv stack-build stack-up stack-down stack-status lint test test-unit test-integration test-distributed bench demo provision clean

venv: .venv/.installed
.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[cli,dev,bench]'
	touch $@

stack-build: venv
	$(TRACKLOG) stack build

stack-up: venv
	$(TRACKLOG) stack up

stack-down: venv
	$(TRACKLOG) stack down

stack-status: venv
	$(TRACKLOG) stack status

lint: venv
	$(PY) -m ruff check .

# The unit tests need one Go tool (the push conformance check), not the servers: build just that (cached).
test-unit: venv
	bash stack/build/pushcheck.sh >/dev/null
	$(PY) -m pytest -m "not integration" tests/unit

# Builds/installs the servers first (cached under ~/.cache/tracklog), then runs every test; the integration
# tests start the stack themselves if it is not running, and stop what they started.
test: venv lint stack-build faro-page
	$(PY) -m pytest -m "not distributed" tests

# The pages instrumented with Grafana Faro's Web SDK, bundled with npm and esbuild outside the repository
# (~/.cache/tracklog/faro-page, reused): the demo's tracking page (demo/page/; its web service serves it and the
# demo's browser users load it; rebuilt when its sources change) and the browser test's capture page, both in the
# chromium `tracklog stack build` installs.
faro-page:
	d=$${TRACKLOG_FARO_PAGE_DIR:-$$HOME/.cache/tracklog/faro-page}; \
	test -f $$d/page.bundle.js -a $$d/tracking.bundle.js -nt demo/page/tracking.js \
	  -a $$d/tracking.html -nt demo/page/tracking.html || sh demo/page/build.sh

test-integration: venv stack-build faro-page
	$(PY) -m pytest -m "not distributed" tests/integration

# The distributed Loki topology (127.0.15.x, its own S3 gateway and state/distributed/) and its fault tests: about
# 8 minutes, so not part of `make test`. Starts the topology unless it runs, and stops what it started.
test-distributed: venv stack-build
	$(PY) -m pytest -m distributed tests/integration

bench: venv stack-build
	$(PY) -m bench

# Validate everything against the real query parsers, then plan and apply (apply re-plans and prints the plan).
provision: venv
	$(TRACKLOG) validate
	$(TRACKLOG) apply

# The demo's contact points: the printer the demo runs on the stack's webhook port (see demo/alerts.py).
demo: export TRACKLOG_SLACK_WEBHOOK_URL ?= http://127.0.0.1:9099/security-slack
demo: venv stack-up provision
	@command -v npm >/dev/null && $(MAKE) --no-print-directory faro-page || \
	  echo "demo: the tracking page is not built (no npm, or npm failed): the demo runs without browser users"
	$(PY) -m demo

compose-config: venv
	$(TRACKLOG) stack compose-config
	$(TRACKLOG) render

clean:
	rm -rf .venv state build .pytest_cache .ruff_cache
