# shellcheck shell=bash
# Shared library of the stack/build/*.sh scripts: build one Go server binary from its
# module on the Go module proxy into the tracklog cache. Sourced, never run.
#
# A build script sources this file, then:
#   gobuild_init <tag>                 # log prefix "[<tag>-build]"
#   gobuild_version VERSION <KEY>      # read KEY from stack/versions.env into VERSION
#   BIN_NAME=...  DISPLAY_NAME=...  MODULE=...  MODULE_VERSION=...  PKG=...
#   (optional) BUILD_MODE GO_TAGS WRAPPER_GO WRAPPER_EXTRA VERSION_FLAG LICENSE_NOTE
#              BUILD_ESTIMATE, and a gobuild_ldflags function (gobuild_loki_module sets
#              them for the commands of the Loki module)
#   gobuild_main
#
# Contract kept by gobuild_main:
#   binary  ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/bin/<BIN_NAME>-<VERSION>
#   build   ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/build/<BIN_NAME>-<VERSION>/ (build.log, wrapper/)
#   - an existing binary is reused without touching Go;
#   - the module's LICENSE must be the Apache License 2.0, else the build is refused;
#   - progress goes to stderr, the last stdout line is the binary path;
#   - exit 0 on success, 1 on any failure (die).
set -euo pipefail

GOBUILD_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSIONS_FILE="${GOBUILD_LIB_DIR}/../versions.env"
GOBUILD_TAG=build

# Settings a script may override (after sourcing this file).
BUILD_MODE=auto        # auto: `go install pkg@version` unless go.mod has replace/exclude; wrapper: always wrap
GO_TAGS=""             # -tags for the build
WRAPPER_GO=""          # `go` directive of the wrapper module; empty: the module's own
WRAPPER_EXTRA=()       # extra go.mod lines for the wrapper module (pins, with comments)
VERSION_FLAG=--version # the built binary must run with this flag
LICENSE_NOTE=""        # appended to the license refusal
BUILD_ESTIMATE="a few minutes"

# The ldflags, called after the module download (MOD_DIR, MOD_INFO are set). Override as needed.
gobuild_ldflags() { printf '%s' "-s -w"; }

# Settings for a command of the Loki v2 module (loki, promtail): always a wrapper module
# (go.mod has replace directives), pinned for modern Go, static netgo build.
gobuild_loki_module() {
    BUILD_MODE=wrapper
    WRAPPER_GO=1.22
    WRAPPER_EXTRA=("// reflect2 < 1.0.2 crashes at runtime on Go >= 1.18"
        "require github.com/modern-go/reflect2 v1.0.2")
    GO_TAGS=netgo
    VERSION_FLAG=-version
    BUILD_ESTIMATE="several minutes"
    # shellcheck disable=SC2317 # called later, by gobuild_main
    gobuild_ldflags() {
        local flags="-s -w"
        flags+=" -X ${MODULE}/pkg/build.Version=${VERSION}"
        flags+=" -X ${MODULE}/pkg/build.Revision=${MODULE_VERSION##*-}"
        flags+=" -X ${MODULE}/pkg/build.Branch=v${VERSION}"
        flags+=" -X ${MODULE}/pkg/build.BuildUser=tracklog"
        printf '%s' "$flags"
    }
}

log() { printf '[%s-build] %s\n' "$GOBUILD_TAG" "$*" >&2; }
die() { printf '[%s-build] ERROR: %s\n' "$GOBUILD_TAG" "$*" >&2; exit 1; }

gobuild_init() { # <tag>
    GOBUILD_TAG="$1"
    [[ -f "$VERSIONS_FILE" ]] || die "missing $VERSIONS_FILE"
}

gobuild_version() { # <variable> <KEY>: read KEY=VALUE from versions.env without sourcing unrelated lines
    local v
    v="$(grep -E "^[[:space:]]*$2=" "$VERSIONS_FILE" | tail -n 1 | cut -d= -f2- || true)"
    v="${v%%#*}"; v="${v//\"/}"; v="${v//\'/}"; v="${v//[[:space:]]/}"
    [[ -n "$v" ]] || die "$2 not set in $VERSIONS_FILE"
    printf -v "$1" '%s' "$v"
}

gobuild_paths() { # <name> <version>: where the binary, its build dir and build log go
    CACHE_DIR="${TRACKLOG_CACHE:-$HOME/.cache/tracklog}"
    BIN="${CACHE_DIR}/bin/$1-$2"
    BUILD_DIR="${CACHE_DIR}/build/$1-$2"
    BUILD_LOG="${BUILD_DIR}/build.log"
}

gobuild_reuse_or_prepare() { # an existing binary: print it and exit 0; else make the dirs, empty the log, set Go's env
    if [[ -x "$BIN" ]]; then
        log "already built: $BIN"
        printf '%s\n' "$BIN"
        exit 0
    fi
    command -v go >/dev/null 2>&1 || die "go not found on PATH"
    mkdir -p "$BUILD_DIR" "${CACHE_DIR}/bin"
    : >"$BUILD_LOG"
    export GOTOOLCHAIN=local
    export CGO_ENABLED=0
    export GOWORK=off
}

gobuild_check_license() { # <module dir> <what>: refuse to build unless its LICENSE is the Apache License 2.0
    [[ -f "$1/LICENSE" ]] || die "no LICENSE in downloaded $2 (see $BUILD_LOG)"
    if grep -qi 'AFFERO' "$1/LICENSE" || ! grep -q 'Apache License' "$1/LICENSE" \
        || ! grep -q 'Version 2.0, January 2004' "$1/LICENSE"; then
        die "$1/LICENSE is not the Apache License 2.0 - refusing to build${LICENSE_NOTE:+ $LICENSE_NOTE}"
    fi
    log "license OK: Apache License 2.0 ($1/LICENSE)"
}

gobuild_main() {
    gobuild_paths "$BIN_NAME" "$VERSION"
    gobuild_reuse_or_prepare
    log "building ${DISPLAY_NAME} ${VERSION} (${PKG}@${MODULE_VERSION}) with $(go version | awk '{print $3}')"
    log "build dir: $BUILD_DIR"
    log "build log: $BUILD_LOG"
    cd "$BUILD_DIR"

    gobuild_download
    LDFLAGS="$(gobuild_ldflags)"
    TMP_DIR="$(mktemp -d "${BUILD_DIR}/tmp.XXXXXX")"
    trap 'rm -rf "$TMP_DIR"' EXIT
    TMP_BIN="${TMP_DIR}/${PKG##*/}"
    gobuild_command
    gobuild_compile
}

gobuild_download() { # 1. Download the module and check its license before building anything.
    local json
    log "downloading ${MODULE}@${MODULE_VERSION} ..."
    json="$(GOFLAGS=-mod=mod go mod download -json "${MODULE}@${MODULE_VERSION}" 2>>"$BUILD_LOG")" \
        || die "module download failed (see $BUILD_LOG)"
    MOD_DIR="$(gobuild_json_field "$json" Dir)"
    # shellcheck disable=SC2034 # for gobuild_ldflags hooks
    MOD_INFO="$(gobuild_json_field "$json" Info)"
    [[ -n "$MOD_DIR" ]] || die "module download printed no Dir (see $BUILD_LOG)"
    gobuild_check_license "$MOD_DIR" module
}

gobuild_json_field() { # <json> <field>: a string field of `go mod download -json`
    printf '%s\n' "$1" | sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\{0,1\}\$/\1/p"
}

gobuild_command() { # 2. Choose the build mode and set BUILD_CMD.
    # `go install pkg@version` refuses modules whose go.mod has replace/exclude directives;
    # then build through a wrapper module that requires the module and repeats those
    # directives (they are ignored for dependencies).
    local tags=()
    [[ -n "$GO_TAGS" ]] && tags=(-tags "$GO_TAGS")
    if [[ "$BUILD_MODE" == wrapper ]] \
        || grep -qE '^[[:space:]]*(replace|exclude)([[:space:]]|\()' "$MOD_DIR/go.mod"; then
        MODE=wrapper
        gobuild_wrapper
        log "building via wrapper module $WRAP_DIR"
        BUILD_CMD=(env GOFLAGS=-mod=mod go build -C "$WRAP_DIR" -v -trimpath "${tags[@]}"
            -ldflags "$LDFLAGS" -o "$TMP_BIN" "$PKG")
    else
        MODE=install
        BUILD_CMD=(env GOBIN="$TMP_DIR" go install -v -trimpath "${tags[@]}" -ldflags "$LDFLAGS"
            "${PKG}@${MODULE_VERSION}")
    fi
    printf 'mode: %s\ncommand: %s\n' "$MODE" "${BUILD_CMD[*]}" >>"$BUILD_LOG"
}

gobuild_wrapper() { # write ${BUILD_DIR}/wrapper/go.mod
    WRAP_DIR="${BUILD_DIR}/wrapper"
    mkdir -p "$WRAP_DIR"
    {
        echo "module tracklog.local/${BIN_NAME}-build"
        echo
        echo "go ${WRAPPER_GO:-$(sed -n 's/^go[[:space:]]\{1,\}\([0-9.]*\).*/\1/p' "$MOD_DIR/go.mod" | head -n 1)}"
        echo
        echo "require ${MODULE} ${MODULE_VERSION}"
        echo
        if (( ${#WRAPPER_EXTRA[@]} )); then
            printf '%s\n' "${WRAPPER_EXTRA[@]}"
            echo
        fi
        echo "// copied from ${MODULE}@${MODULE_VERSION}/go.mod"
        awk '
            /^(replace|exclude)[[:space:]]*\($/ { inblk = 1; print; next }
            inblk { print; if ($0 ~ /^\)/) inblk = 0; next }
            /^(replace|exclude)[[:space:]]/ { print }
        ' "$MOD_DIR/go.mod"
    } >"$WRAP_DIR/go.mod"
    rm -f "$WRAP_DIR/go.sum"
    { echo "---- wrapper go.mod ----"; cat "$WRAP_DIR/go.mod"; echo "------------------------"; } >>"$BUILD_LOG"
}

gobuild_compile() { # 3. Build. `-v` prints each package as it is compiled (progress).
    local start rc n=0
    log "resolving dependencies and compiling (${MODE} mode; ${BUILD_ESTIMATE} on a cold cache) ..."
    start=$(date +%s)
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
    [[ -f "$TMP_BIN" ]] || die "build produced no binary - see $BUILD_LOG"
    "$TMP_BIN" "$VERSION_FLAG" >>"$BUILD_LOG" 2>&1 || die "built binary does not run - see $BUILD_LOG"
    mv -f "$TMP_BIN" "$BIN"
    log "built in $(( $(date +%s) - start ))s: $BIN ($(du -h "$BIN" | cut -f1))"
    printf '%s\n' "$BIN"
}
