#!/usr/bin/env bash
# Build a native Grafana Promtail agent binary (Loki's log shipper) from the Go module proxy.
#
# Reads LOKI_VERSION / LOKI_MODULE_VERSION from stack/versions.env (Promtail lives in the
# same module as Loki, github.com/grafana/loki/cmd/promtail), builds into
#   ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/bin/promtail-<LOKI_VERSION>
# and skips the build when that binary already exists. Needs only Go and the
# module proxy. Progress goes to stderr; the last stdout line is the binary path.
# Built with CGO_ENABLED=0 and without the systemd journal target (a cgo-only feature).
#
# Licensing: only Apache-2.0 Loki/Promtail (<= 2.2.1) may be used. The script refuses to
# build if the downloaded module's LICENSE is not the Apache License 2.0.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gobuild_init promtail
gobuild_version VERSION LOKI_VERSION
gobuild_version MODULE_VERSION LOKI_MODULE_VERSION
BIN_NAME=promtail
DISPLAY_NAME=Promtail
MODULE=github.com/grafana/loki
PKG="${MODULE}/cmd/promtail"
LICENSE_NOTE="(AGPL Loki/Promtail is not allowed)"
gobuild_loki_module
gobuild_main
