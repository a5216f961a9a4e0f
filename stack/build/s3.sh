#!/usr/bin/env bash
# Build a native versitygw (Versity S3 Gateway) binary from the Go module proxy.
# It is the S3-compatible object store for archives (POSIX backend on a local dir).
#
# Reads S3GW_VERSION from stack/versions.env, builds into
#   ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/bin/versitygw-<S3GW_VERSION>
# and skips the build when that binary already exists. Needs only Go (>= 1.25)
# and the module proxy. Progress goes to stderr; the last stdout line is the
# binary path.
#
# Licensing: versitygw is Apache-2.0 (MinIO is AGPL and not allowed). The script
# refuses to build if the downloaded module's LICENSE is not the Apache License 2.0.
#
# Run it (data dir must support user xattrs; the bucket dirs live directly in it):
#   versitygw-<ver> --port 127.0.0.1:9000 --access <key> --secret <secret> \
#       --health /health --quiet posix <data-dir>
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSIONS_FILE="${SCRIPT_DIR}/../versions.env"

log() { printf '[s3-build] %s\n' "$*" >&2; }
die() { printf '[s3-build] ERROR: %s\n' "$*" >&2; exit 1; }

read_var() { # read KEY=VALUE from versions.env without sourcing unrelated lines
    local v
    v="$(grep -E "^[[:space:]]*$1=" "$VERSIONS_FILE" | tail -n 1 | cut -d= -f2- || true)"
    v="${v%%#*}"; v="${v//\"/}"; v="${v//\'/}"; v="${v//[[:space:]]/}"
    printf '%s' "$v"
}

[[ -f "$VERSIONS_FILE" ]] || die "missing $VERSIONS_FILE"
S3GW_VERSION="$(read_var S3GW_VERSION)"
[[ -n "$S3GW_VERSION" ]] || die "S3GW_VERSION not set in $VERSIONS_FILE"
[[ "$S3GW_VERSION" == v* ]] || S3GW_VERSION="v${S3GW_VERSION}" # module versions need the v

CACHE_DIR="${TRACKLOG_CACHE:-$HOME/.cache/tracklog}"
BIN="${CACHE_DIR}/bin/versitygw-${S3GW_VERSION}"
BUILD_DIR="${CACHE_DIR}/build/versitygw-${S3GW_VERSION}"
BUILD_LOG="${BUILD_DIR}/build.log"
MODULE="github.com/versity/versitygw"
PKG="${MODULE}/cmd/versitygw"

if [[ -x "$BIN" ]]; then
    log "already built: $BIN"
    printf '%s\n' "$BIN"
    exit 0
fi

command -v go >/dev/null 2>&1 || die "go not found on PATH"
mkdir -p "$BUILD_DIR" "${CACHE_DIR}/bin"
: >"$BUILD_LOG"
log "building versitygw ${S3GW_VERSION} (${PKG}@${S3GW_VERSION}) with $(go version | awk '{print $3}')"
log "build dir: $BUILD_DIR"
log "build log: $BUILD_LOG"

export GOTOOLCHAIN=local
# cgo only adds the optional RDMA/cuObject paths (they need NVIDIA libraries);
# without it those packages build as stubs and the binary is fully static.
export CGO_ENABLED=0
export GOWORK=off

cd "$BUILD_DIR"

# 1. Download the module and check its license before building anything.
log "downloading ${MODULE}@${S3GW_VERSION} ..."
MOD_JSON="$(GOFLAGS=-mod=mod go mod download -json "${MODULE}@${S3GW_VERSION}" 2>>"$BUILD_LOG")" \
    || die "module download failed (see $BUILD_LOG)"
json_field() { printf '%s\n' "$MOD_JSON" | sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p"; }
MOD_DIR="$(json_field Dir)"
MOD_INFO="$(json_field Info)"
[[ -n "$MOD_DIR" && -f "$MOD_DIR/LICENSE" ]] || die "no LICENSE in downloaded module (see $BUILD_LOG)"
if grep -qi 'AFFERO' "$MOD_DIR/LICENSE" || ! grep -q 'Apache License' "$MOD_DIR/LICENSE" \
    || ! grep -q 'Version 2.0, January 2004' "$MOD_DIR/LICENSE"; then
    die "$MOD_DIR/LICENSE is not the Apache License 2.0 - refusing to build"
fi
log "license OK: Apache License 2.0 ($MOD_DIR/LICENSE)"

# Version info shown by `versitygw --version` (the Makefile sets these from git).
BUILD_TIME=""
[[ -n "$MOD_INFO" && -f "$MOD_INFO" ]] \
    && BUILD_TIME="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$MOD_INFO")"
LDFLAGS="-s -w -X main.Version=${S3GW_VERSION} -X main.Build=gomod"
[[ -n "$BUILD_TIME" ]] && LDFLAGS+=" -X main.BuildTime=${BUILD_TIME}"

TMP_DIR="$(mktemp -d "${BUILD_DIR}/tmp.XXXXXX")"
trap 'rm -rf "$TMP_DIR"' EXIT

# 2. Choose the build mode. `go install pkg@version` refuses modules whose go.mod has
#    replace/exclude directives; then build through a wrapper module that requires
#    versitygw and repeats those directives (they are ignored for dependencies).
if grep -qE '^[[:space:]]*(replace|exclude)([[:space:]]|\()' "$MOD_DIR/go.mod"; then
    MODE=wrapper
    WRAP_DIR="${BUILD_DIR}/wrapper"
    mkdir -p "$WRAP_DIR"
    {
        echo "module tracklog.local/versitygw-build"
        echo
        echo "go $(sed -n 's/^go[[:space:]]\{1,\}\([0-9.]*\).*/\1/p' "$MOD_DIR/go.mod" | head -n 1)"
        echo
        echo "require ${MODULE} ${S3GW_VERSION}"
        echo
        echo "// copied from ${MODULE}@${S3GW_VERSION}/go.mod"
        awk '
            /^(replace|exclude)[[:space:]]*\($/ { inblk = 1; print; next }
            inblk { print; if ($0 ~ /^\)/) inblk = 0; next }
            /^(replace|exclude)[[:space:]]/ { print }
        ' "$MOD_DIR/go.mod"
    } >"$WRAP_DIR/go.mod"
    rm -f "$WRAP_DIR/go.sum"
    { echo "---- wrapper go.mod ----"; cat "$WRAP_DIR/go.mod"; echo "------------------------"; } >>"$BUILD_LOG"
    log "module has replace/exclude directives: building via wrapper module $WRAP_DIR"
    BUILD_CMD=(env GOFLAGS=-mod=mod go build -C "$WRAP_DIR" -v -trimpath -ldflags "$LDFLAGS"
        -o "$TMP_DIR/versitygw" "$PKG")
else
    MODE=install
    BUILD_CMD=(env GOBIN="$TMP_DIR" go install -v -trimpath -ldflags "$LDFLAGS" "${PKG}@${S3GW_VERSION}")
fi
printf 'mode: %s\ncommand: %s\n' "$MODE" "${BUILD_CMD[*]}" >>"$BUILD_LOG"

# 3. Build. `-v` prints each package as it is compiled (progress).
log "resolving dependencies and compiling (${MODE} mode; a few minutes on a cold cache) ..."
start=$(date +%s)
n=0
set +e
"${BUILD_CMD[@]}" 2>&1 \
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
[[ -f "$TMP_DIR/versitygw" ]] || die "build produced no binary - see $BUILD_LOG"
"$TMP_DIR/versitygw" --version >>"$BUILD_LOG" 2>&1 || die "built binary does not run - see $BUILD_LOG"
mv -f "$TMP_DIR/versitygw" "$BIN"
log "built in $(( $(date +%s) - start ))s: $BIN ($(du -h "$BIN" | cut -f1))"
printf '%s\n' "$BIN"
