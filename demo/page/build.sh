#!/bin/sh
# Bundle page.js with the Faro Web SDK into $TRACKLOG_FARO_PAGE_DIR (default ~/.cache/tracklog/faro-page), outside
# the repository: npm installs the SDK (and esbuild) there, esbuild writes page.bundle.js beside a copy of index.html.
# tests/integration/test_faro_browser.py loads it in headless Chromium; it is skipped until this has run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${TRACKLOG_FARO_PAGE_DIR:-$HOME/.cache/tracklog/faro-page}
mkdir -p "$out"
cd "$out"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-audit --no-fund @grafana/faro-web-sdk@2.12.1 @grafana/faro-web-tracing@2.12.1 esbuild@0.28 >/dev/null
NODE_PATH="$out/node_modules" "$out/node_modules/.bin/esbuild" "$here/page.js" --bundle --minify --format=iife \
  --target=es2020 --outfile="$out/page.bundle.js" --log-level=warning
cp "$here/index.html" "$out/index.html"
echo "$out/page.bundle.js"
