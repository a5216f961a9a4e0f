#!/usr/bin/env bash
# Build a native Grafana Loki server binary from the Go module proxy.
#
# Reads LOKI_VERSION / LOKI_MODULE_VERSION from stack/versions.env, builds into
#   ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/bin/loki-<LOKI_VERSION>
# and skips the build when that binary already exists. Needs only Go and the
# module proxy. Progress goes to stderr; the last stdout line is the binary path.
#
# Licensing: only Apache-2.0 Loki (<= 2.2.1) may be used. The script refuses to
# build if the downloaded module's LICENSE is not the Apache License 2.0.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gobuild_init loki
gobuild_version VERSION LOKI_VERSION
gobuild_version MODULE_VERSION LOKI_MODULE_VERSION
BIN_NAME=loki
DISPLAY_NAME=Loki
MODULE=github.com/grafana/loki
PKG="${MODULE}/cmd/loki"
LICENSE_NOTE="(AGPL Loki is not allowed)"
gobuild_loki_module
gobuild_main
