#!/usr/bin/env bash
# Build a native logcli binary (Loki's command-line query client) from the Go module proxy.
#
# Reads LOKI_VERSION / LOKI_MODULE_VERSION from stack/versions.env (logcli lives in the
# same module as Loki, github.com/grafana/loki/cmd/logcli), builds into
#   ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/bin/logcli-<LOKI_VERSION>
# and skips the build when that binary already exists. Needs only Go and the
# module proxy. Progress goes to stderr; the last stdout line is the binary path.
# Used by the read-side benchmark (python -m bench read) as the anchor for exports.
#
# Licensing: only Apache-2.0 Loki/logcli (<= 2.2.1) may be used. The script refuses to
# build if the downloaded module's LICENSE is not the Apache License 2.0.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gobuild_init logcli
gobuild_version VERSION LOKI_VERSION
gobuild_version MODULE_VERSION LOKI_MODULE_VERSION
BIN_NAME=logcli
DISPLAY_NAME=logcli
MODULE=github.com/grafana/loki
PKG="${MODULE}/cmd/logcli"
LICENSE_NOTE="(AGPL Loki/logcli is not allowed)"
gobuild_loki_module
VERSION_FLAG=--version
gobuild_main
