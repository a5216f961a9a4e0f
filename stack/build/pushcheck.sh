#!/usr/bin/env bash
# Build pushcheck (stack/pushcheck/): decodes a Loki push body with Loki 3's own push types
# (github.com/grafana/loki/pkg/push, Apache-2.0) and prints what Loki would ingest; the test
# tests/unit/test_push_conformance.py checks tracklog's push encoder against it.
#
# Builds the local source into
#   ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/bin/pushcheck-<hash>
# where <hash> is a short hash of stack/pushcheck/{go.mod,go.sum,*.go}, so a changed source
# never reuses a stale binary; an existing binary is reused without touching Go. Needs only Go
# and the module proxy (for the pinned dependencies in go.sum). Progress goes to stderr; the
# last stdout line is the binary path. Exit 0 on success, 1 on any failure.
#
#   pushcheck.sh --path    print the binary path only (no build; the file may not exist yet)
#
# It sources lib.sh for the shared contract (paths, reuse of a built binary, Go's environment, the
# license rule) but not gobuild_main, which builds a module from the proxy, not local source: the
# pkg/push module's LICENSE must be the Apache License 2.0, and the main Loki module (AGPL since
# 2.3) must not be in the build at all.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
gobuild_init pushcheck

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../pushcheck" && pwd)"
PUSH_MODULE=github.com/grafana/loki/pkg/push
LICENSE_NOTE="(AGPL Loki is not allowed)"
[[ -f "$SRC_DIR/go.mod" && -f "$SRC_DIR/go.sum" ]] || die "missing $SRC_DIR/go.mod or go.sum"

VERSION="$(cd "$SRC_DIR" && LC_ALL=C sha256sum go.mod go.sum ./*.go | sha256sum | cut -c1-12)"
gobuild_paths pushcheck "$VERSION"

if [[ "${1:-}" == --path ]]; then
    printf '%s\n' "$BIN"
    exit 0
fi
(( $# == 0 )) || die "usage: $0 [--path]"

gobuild_reuse_or_prepare
log "building pushcheck ${VERSION} from ${SRC_DIR} with $(go version | awk '{print $3}')"
log "build log: $BUILD_LOG"

# 1. Download the pinned pkg/push module and check its license before building anything.
PUSH_VERSION="$(sed -n "s#^[[:space:]]*\(require[[:space:]]\{1,\}\)\{0,1\}${PUSH_MODULE}[[:space:]]\{1,\}\(v[^[:space:]]*\).*#\2#p" \
    "$SRC_DIR/go.mod" | head -n 1)"
[[ -n "$PUSH_VERSION" ]] || die "${PUSH_MODULE} is not required in $SRC_DIR/go.mod"
log "downloading ${PUSH_MODULE}@${PUSH_VERSION} ..."
json="$(cd "$SRC_DIR" && go mod download -json "${PUSH_MODULE}@${PUSH_VERSION}" 2>>"$BUILD_LOG")" \
    || die "module download failed (see $BUILD_LOG)"
MOD_DIR="$(gobuild_json_field "$json" Dir)"
[[ -n "$MOD_DIR" ]] || die "module download printed no Dir for ${PUSH_MODULE} (see $BUILD_LOG)"
gobuild_check_license "$MOD_DIR" "$PUSH_MODULE"

# 2. The AGPL Loki modules must not be compiled in (only the separate pkg/push module may be).
modules="$(cd "$SRC_DIR" && go list -mod=readonly -deps -f '{{with .Module}}{{.Path}} {{.Version}}{{end}}' . \
    2>>"$BUILD_LOG" | sort -u)" || die "go list -deps failed (see $BUILD_LOG)"
printf -- '---- modules compiled in ----\n%s\n-----------------------------\n' "$modules" >>"$BUILD_LOG"
if printf '%s\n' "$modules" | awk '{print $1}' | grep -qE '^github\.com/grafana/loki(/v[0-9]+)?$'; then
    die "the main Loki module (AGPL) would be compiled in - refusing to build"
fi

# 3. Build (go.sum must already pin everything: -mod=readonly never rewrites the checked-in files).
TMP_DIR="$(mktemp -d "${BUILD_DIR}/tmp.XXXXXX")"
trap 'rm -rf "$TMP_DIR"' EXIT
start=$(date +%s)
log "compiling (under a minute on a cold cache) ..."
if ! go build -C "$SRC_DIR" -mod=readonly -trimpath -ldflags "-s -w" -o "$TMP_DIR/pushcheck" . >>"$BUILD_LOG" 2>&1; then
    grep -E '\.go:[0-9]+|^go: |error' "$BUILD_LOG" | tail -n 20 >&2 || true
    die "go build failed - see $BUILD_LOG"
fi
# Smoke test: an empty JSON push decodes to no streams.
out="$(printf '{"streams":[]}' | "$TMP_DIR/pushcheck" -content-type application/json 2>>"$BUILD_LOG")" \
    || die "built binary does not run - see $BUILD_LOG"
[[ "$out" == '{"streams":[]}' ]] || die "built binary's smoke test printed ${out@Q} - see $BUILD_LOG"
mv -f "$TMP_DIR/pushcheck" "$BIN"
log "built in $(( $(date +%s) - start ))s: $BIN ($(du -h "$BIN" | cut -f1))"
printf '%s\n' "$BIN"
