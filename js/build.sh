#!/usr/bin/env bash
# Rebuild the map's vendored WebGL renderer: paperatlas/export/vendor/regl-scatterplot.min.js
# (regl-scatterplot and its dependencies in one minified IIFE that sets window.createScatterplot)
# and vendor/LICENSES.txt (the licence of every package inside it).
#
# To update: change the version in package.json, then run `bash js/build.sh` from the
# repository root (needs node and npm; fetches from the npm registry), run the map tests
# (pytest tests/test_export_map.py), and commit package.json, package-lock.json and vendor/.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
out=../paperatlas/export/vendor
mkdir -p "$out"
npx esbuild entry.js --bundle --minify --format=iife --target=es2020 --legal-comments=none \
  --outfile="$out/regl-scatterplot.min.js"
{
  echo "Licences of the packages bundled in regl-scatterplot.min.js (built by js/build.sh)."
  echo
  echo "regl-scatterplot's own dist already inlines some of its dependencies, so every"
  echo "production dependency installed here is listed."
  echo
  for dir in $(npm ls --omit=dev --all --parseable | tail -n +2 | sort -u); do
    pkg=${dir#*node_modules/}
    version=$(node -p "require('./node_modules/$pkg/package.json').version")
    licence=$(node -p "require('./node_modules/$pkg/package.json').license")
    echo "==== $pkg $version ($licence) ===="
    cat "$dir"/LICEN[CS]E* 2>/dev/null || echo "(no licence file shipped; package.json says $licence)"
    echo
  done
} > "$out/LICENSES.txt"
ls -l "$out"
