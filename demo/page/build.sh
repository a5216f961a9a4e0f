#!/bin/sh
# Bundle the Faro Web SDK pages into $TRACKLOG_FARO_PAGE_DIR (default ~/.cache/tracklog/faro-page), outside the
# repository: npm installs the SDK (and esbuild) there once, esbuild writes
#   tracking.bundle.js + tracking.html  the demo's tracking page (demo/page/), served by the demo's web service;
#                                        identifiers kept, so JS errors name their functions (code.function)
#   page.bundle.js + index.html         the capture page of tests/unit/data/faro/, loaded by
#                                        tests/integration/test_faro_browser.py in headless Chromium
# `make faro-page` runs it when a bundle is missing; without them the demo runs without its browser users and the
# browser test is skipped, each saying why.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
capture=$(cd "$here/../../tests/unit/data/faro" && pwd)
out=${TRACKLOG_FARO_PAGE_DIR:-$HOME/.cache/tracklog/faro-page}
mkdir -p "$out"
cd "$out"
[ -f package.json ] || npm init -y >/dev/null
[ -d node_modules/@grafana/faro-web-tracing ] && [ -x node_modules/.bin/esbuild ] ||
  npm install --no-audit --no-fund @grafana/faro-web-sdk@2.12.1 @grafana/faro-web-tracing@2.12.1 esbuild@0.28 >/dev/null
esbuild="$out/node_modules/.bin/esbuild"
NODE_PATH="$out/node_modules" "$esbuild" "$capture/page.js" --bundle --minify --format=iife \
  --target=es2020 --outfile="$out/page.bundle.js" --log-level=warning
cp "$capture/index.html" "$out/index.html"
NODE_PATH="$out/node_modules" "$esbuild" "$here/tracking.js" --bundle --minify-whitespace --minify-syntax \
  --format=iife --target=es2020 --outfile="$out/tracking.bundle.js" --log-level=warning
cp "$here/tracking.html" "$out/tracking.html"
echo "$out/tracking.bundle.js $out/page.bundle.js"
