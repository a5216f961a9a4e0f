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

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSIONS_FILE="${SCRIPT_DIR}/../versions.env"

log() { printf '[promtail-build] %s\n' "$*" >&2; }
die() { printf '[promtail-build] ERROR: %s\n' "$*" >&2; exit 1; }

read_var() { # read KEY=VALUE from versions.env without sourcing unrelated lines
    local v
    v="$(grep -E "^[[:space:]]*$1=" "$VERSIONS_FILE" | tail -n 1 | cut -d= -f2- || true)"
    v="${v%%#*}"; v="${v//\"/}"; v="${v//\'/}"; v="${v//[[:space:]]/}"
    printf '%s' "$v"
}

[[ -f "$VERSIONS_FILE" ]] || die "missing $VERSIONS_FILE"
LOKI_VERSION="$(read_var LOKI_VERSION)"
LOKI_MODULE_VERSION="$(read_var LOKI_MODULE_VERSION)"
[[ -n "$LOKI_VERSION" ]] || die "LOKI_VERSION not set in $VERSIONS_FILE"
[[ -n "$LOKI_MODULE_VERSION" ]] || die "LOKI_MODULE_VERSION not set in $VERSIONS_FILE"

CACHE_DIR="${TRACKLOG_CACHE:-$HOME/.cache/tracklog}"
BIN="${CACHE_DIR}/bin/promtail-${LOKI_VERSION}"
BUILD_DIR="${CACHE_DIR}/build/promtail-${LOKI_VERSION}"
BUILD_LOG="${BUILD_DIR}/build.log"
MODULE="github.com/grafana/loki"

if [[ -x "$BIN" ]]; then
    log "already built: $BIN"
    printf '%s\n' "$BIN"
    exit 0
fi

command -v go >/dev/null 2>&1 || die "go not found on PATH"
mkdir -p "$BUILD_DIR" "${CACHE_DIR}/bin"
: >"$BUILD_LOG"
log "building Promtail ${LOKI_VERSION} (${MODULE}@${LOKI_MODULE_VERSION}) with $(go version | awk '{print $3}')"
log "build dir: $BUILD_DIR"
log "build log: $BUILD_LOG"

export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOWORK=off

cd "$BUILD_DIR"

# 1. Download the module and check its license before building anything.
log "downloading ${MODULE}@${LOKI_MODULE_VERSION} ..."
MOD_DIR="$(go mod download -json "${MODULE}@${LOKI_MODULE_VERSION}" 2>>"$BUILD_LOG" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')" \
    || die "module download failed (see $BUILD_LOG)"
[[ -n "$MOD_DIR" && -f "$MOD_DIR/LICENSE" ]] || die "no LICENSE in downloaded module (see $BUILD_LOG)"
if grep -qi 'AFFERO' "$MOD_DIR/LICENSE" || ! grep -q 'Apache License' "$MOD_DIR/LICENSE" \
    || ! grep -q 'Version 2.0, January 2004' "$MOD_DIR/LICENSE"; then
    die "$MOD_DIR/LICENSE is not the Apache License 2.0 - refusing to build (AGPL Loki/Promtail is not allowed)"
fi
log "license OK: Apache License 2.0 ($MOD_DIR/LICENSE)"

# 2. Wrapper module: require Loki, repeat its replace/exclude directives
#    (they are ignored for dependencies), and pin fixes needed on modern Go.
{
    echo "module tracklog.local/promtail-build"
    echo
    echo "go 1.22"
    echo
    echo "require ${MODULE} ${LOKI_MODULE_VERSION}"
    echo
    echo "// reflect2 < 1.0.2 crashes at runtime on Go >= 1.18"
    echo "require github.com/modern-go/reflect2 v1.0.2"
    echo
    echo "// copied from ${MODULE}@${LOKI_MODULE_VERSION}/go.mod"
    awk '
        /^(replace|exclude)[[:space:]]*\($/ { inblk = 1; print; next }
        inblk { print; if ($0 ~ /^\)/) inblk = 0; next }
        /^(replace|exclude)[[:space:]]/ { print }
    ' "$MOD_DIR/go.mod"
} >go.mod
rm -f go.sum
{ echo "---- go.mod ----"; cat go.mod; echo "----------------"; } >>"$BUILD_LOG"

# 3. Build. `go build -v` prints each package as it is compiled (progress).
LDFLAGS="-s -w"
LDFLAGS+=" -X ${MODULE}/pkg/build.Version=${LOKI_VERSION}"
LDFLAGS+=" -X ${MODULE}/pkg/build.Revision=${LOKI_MODULE_VERSION##*-}"
LDFLAGS+=" -X ${MODULE}/pkg/build.Branch=v${LOKI_VERSION}"
LDFLAGS+=" -X ${MODULE}/pkg/build.BuildUser=tracklog"

log "resolving dependencies and compiling (several minutes on a cold cache) ..."
start=$(date +%s)
TMP_BIN="${BIN}.tmp.$$"
trap 'rm -f "$TMP_BIN"' EXIT
n=0
set +e
go build -v -trimpath -tags netgo -ldflags "$LDFLAGS" -o "$TMP_BIN" "${MODULE}/cmd/promtail" 2>&1 \
    | tee -a "$BUILD_LOG" \
    | while IFS= read -r line; do
        case "$line" in
            go:\ downloading*) ;;
            *) n=$((n + 1)); if (( n % 50 == 0 )); then log "... ${n} packages, $(( $(date +%s) - start ))s"; fi ;;
        esac
        case "$line" in # compiler/linker diagnostics (package names are not echoed)
            go:\ downloading*) ;;
            \#\ *|go:\ *|*.go:[0-9]*|*link:*|*error:*) printf '%s\n' "$line" >&2 ;;
        esac
    done
rc=${PIPESTATUS[0]}
set -e
if (( rc != 0 )); then
    die "go build failed (exit $rc) - see $BUILD_LOG"
fi
"$TMP_BIN" -version >>"$BUILD_LOG" 2>&1 || die "built binary does not run - see $BUILD_LOG"
mv -f "$TMP_BIN" "$BIN"
trap - EXIT
log "built in $(( $(date +%s) - start ))s: $BIN ($(du -h "$BIN" | cut -f1))"
printf '%s\n' "$BIN"
