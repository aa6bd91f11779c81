#!/usr/bin/env bash
# Regenerate the generated layer of azure-messaging-webpubsubservice from swagger/ with the pinned AutoRest toolchain.
#
#   bash generator/generate.sh           regenerate into the package folder (hand-written files are never touched)
#   bash generator/generate.sh --check   regenerate into a temp dir and fail, with a diff, if the committed code differs
#
# Everything AutoRest-specific lives in generator/ (see generator/README.md).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PKG="$ROOT/azure-messaging-webpubsubservice/azure/messaging/webpubsubservice"
SPEC_CONFIG="$ROOT/swagger/README.md"
NM="$HERE/node_modules"
PYTHON="${PYTHON:-python3}"

mode=write
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

command -v node >/dev/null || { echo "generate.sh: node (>= 20) is required" >&2; exit 1; }
command -v "$PYTHON" >/dev/null || { echo "generate.sh: $PYTHON (>= 3.9) is required" >&2; exit 1; }

# 1. The pinned toolchain. Reinstall when node_modules is missing, incomplete, or older than the lock file.
#    --legacy-peer-deps: without it npm 11 loops forever on @typespec/http-client-python's peer dependencies.
#    Install scripts run only where package.json's allowScripts says so (@autorest/python builds its Python venv).
lock_sum="$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -d' ' -f1)"
stamp="$NM/.generator-lock.sha256"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_sum" \
      || ! -x "$NM/@autorest/python/venv/bin/python" || ! -d "$NM/@autorest/core/dist" ]]; then
  echo "generate.sh: installing the pinned AutoRest toolchain (npm ci)" >&2
  (cd "$HERE" && npm ci --legacy-peer-deps --no-audit --no-fund --loglevel=error >&2)
  [[ -x "$NM/@autorest/python/venv/bin/python" ]] || {
    echo "generate.sh: @autorest/python did not build its venv (is its install script allowed?)" >&2; exit 1; }
  echo "$lock_sum" > "$stamp"
fi

# 2. @autorest/python 6.50.3 logs on stdout, which is AutoRest's JSON-RPC channel: send that log to stderr.
"$PYTHON" "$HERE/fix-python-extension.py"

# 3. Run AutoRest into a scratch folder. Core, the Python extension and modelerfour all come from node_modules,
#    so nothing is fetched at generation time.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
if ! node "$NM/autorest/entrypoints/app.js" \
      --version="$NM/@autorest/core" \
      --use="$NM/@autorest/modelerfour" \
      --use="$NM/@autorest/python" \
      "$SPEC_CONFIG" \
      --output-folder="$work/out" >"$work/autorest.log" 2>&1; then
  cat "$work/autorest.log" >&2
  echo "generate.sh: AutoRest failed" >&2
  exit 1
fi
if grep -qE '^(error|fatal) ' "$work/autorest.log"; then
  cat "$work/autorest.log" >&2
  echo "generate.sh: AutoRest reported errors" >&2
  exit 1
fi
echo "generate.sh: AutoRest finished in $(( $(date +%s) - start ))s" >&2

# 4. Copy into the package, or compare with it.
"$PYTHON" "$HERE/sync_generated.py" "--$mode" "$work/out" "$PKG"
