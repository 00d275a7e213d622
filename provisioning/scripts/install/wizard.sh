#!/usr/bin/env bash
# PMOVES install wizard (bundle staged by `pmoves mini bootstrap`): check host tools, then plan and
# apply the manifest beside this bundle. Safe to run again: apply changes only what differs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
manifest="${PMOVES_MANIFEST:-$here/pmoves.mini.yaml}"
if ! command -v pmoves >/dev/null 2>&1; then
  if command -v npm >/dev/null 2>&1; then
    echo "Installing pmoves mini with npm…"
    npm install -g pmoves-mini
  else
    echo "Install Node.js 20.19+ and npm first (https://nodejs.org), then run this wizard again." >&2
    exit 1
  fi
fi
pmoves mini deps check || echo "Some host tools are missing: pmoves mini deps install (asks first)."
if [ ! -f "$manifest" ]; then
  echo "No manifest at $manifest: copy your pmoves.mini.yaml there (or set PMOVES_MANIFEST)." >&2
  exit 1
fi
pmoves mini plan -m "$manifest"
pmoves mini apply -m "$manifest"
