#!/usr/bin/env bash
# Build a native versitygw (Versity S3 Gateway) binary from the Go module proxy.
# It is the S3-compatible object store for archives (POSIX backend on a local dir).
#
# Reads S3GW_VERSION from stack/versions.env, builds into
#   ${TRACKLOG_CACHE:-$HOME/.cache/tracklog}/bin/versitygw-<S3GW_VERSION>
# and skips the build when that binary already exists. Needs only Go (>= 1.25)
# and the module proxy. Progress goes to stderr; the last stdout line is the
# binary path. Built with `go install pkg@version`, or through a wrapper module
# when the module's go.mod has replace/exclude directives. CGO_ENABLED=0: cgo only
# adds the optional RDMA/cuObject paths (they need NVIDIA libraries); without it
# those packages build as stubs and the binary is fully static.
#
# Licensing: versitygw is Apache-2.0 (MinIO is AGPL and not allowed). The script
# refuses to build if the downloaded module's LICENSE is not the Apache License 2.0.
#
# Run it (data dir must support user xattrs; the bucket dirs live directly in it):
#   versitygw-<ver> --port 127.0.0.1:9000 --access <key> --secret <secret> \
#       --health /health --quiet posix <data-dir>
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gobuild_init s3
gobuild_version VERSION S3GW_VERSION
[[ "$VERSION" == v* ]] || VERSION="v${VERSION}" # module versions need the v
BIN_NAME=versitygw
DISPLAY_NAME=versitygw
MODULE=github.com/versity/versitygw
MODULE_VERSION="$VERSION"
PKG="${MODULE}/cmd/versitygw"

gobuild_ldflags() { # version info shown by `versitygw --version` (the Makefile sets these from git)
    local flags="-s -w -X main.Version=${VERSION} -X main.Build=gomod" time=""
    [[ -n "$MOD_INFO" && -f "$MOD_INFO" ]] && time="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$MOD_INFO")"
    printf '%s' "${flags}${time:+ -X main.BuildTime=${time}}"
}
gobuild_main
