#!/usr/bin/env bash
# Record upstream's mini CLI for the differential tests (test/upstream-differential.test.ts).
#
#   scripts/record-upstream.sh UPSTREAM_CHECKOUT [CASE_ID…]
#
# UPSTREAM_CHECKOUT is a PMOVES.AI checkout (the reference is commit 09f0ad73). Needs python3 with typer
# and PyYAML (Debian: apt-get install python3-typer python3-yaml; or set PYTHON=…) and a built tree
# (npm run build). It
#   1. copies the upstream files the cases read (profiles, MCP catalog, secrets manifest, bootstrap
#      registry, n8n flows, the provisioning bundle and its sources) into test/fixtures/upstream/checkout/
#      (no Python: pmoves/tools/mini_cli.py there is a one-line marker; the Crush context files are
#      empty, only their presence counts), and
#   2. runs every case of test/fixtures/upstream/cases.json with upstream's CLI, in a copy of that
#      folder plus upstream's Python code, and writes test/fixtures/upstream/recorded/<id>.json.
# The recorded files are upstream's, under its MIT license (see test/fixtures/upstream/README.md).
set -euo pipefail

up=${1:?usage: scripts/record-upstream.sh UPSTREAM_CHECKOUT [CASE_ID…]}
shift
up=$(cd "$up" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$here/test/fixtures/upstream/checkout
[ -f "$up/pmoves/tools/mini_cli.py" ] || { echo "error: $up is not an upstream checkout (no pmoves/tools/mini_cli.py)" >&2; exit 1; }
[ -f "$here/dist/test/upstream-runner.js" ] || { echo "error: build first (npm run build)" >&2; exit 1; }

py=${PYTHON:-}
if [ -z "$py" ]; then
  for c in python3 /usr/bin/python3; do
    if "$c" -c 'import typer, yaml' 2>/dev/null; then py=$c; break; fi
  done
fi
[ -n "$py" ] && "$py" -c 'import typer, yaml' 2>/dev/null || { echo "error: no python3 with typer and yaml (apt-get install python3-typer python3-yaml, or set PYTHON)" >&2; exit 1; }

if [ $# -eq 0 ]; then
  rm -rf "$out"
  mkdir -p "$out"
  copy() { # copy upstream paths (files or folders), leaving Python out
    for p in "$@"; do
      [ -e "$up/$p" ] || { echo "error: $up/$p is missing" >&2; exit 1; }
      (cd "$up" && find "$p" -type f ! -name '*.py' ! -name '*.pyc' -print0 | xargs -0 cp --parents -p -t "$out")
    done
  }
  copy pmoves/config/profiles pmoves/config/mcp pmoves/chit/secrets_manifest.yaml pmoves/bootstrap/registry.json \
    pmoves/n8n/flows pmoves/pmoves/data/chit/env.cgp.json pmoves/docker-compose.gpu.yml pmoves/provisioning/glancer \
    pmoves/scripts/install/wizard.sh pmoves/scripts/install/wizard.ps1 pmoves/scripts/proxmox/pmoves-bootstrap.sh \
    pmoves/scripts/tailscale_brand_up.sh pmoves/scripts/tailscale_brand_init.sh pmoves/scripts/with-env.sh \
    docs/provisioning/README_APPLY.txt CATACLYSM_STUDIOS_INC/PMOVES-PROVISIONS LICENSE
  for f in CRUSH.md docs/LOCAL_DEV.md docs/LOCAL_TOOLING_REFERENCE.md pmoves/docs/ROADMAP.md pmoves/docs/NEXT_STEPS.md \
    pmoves/docs/SMOKETESTS.md docs/PMOVES_MINI_CLI_SPEC.md; do
    if [ -e "$up/$f" ]; then mkdir -p "$out/$(dirname "$f")"; : > "$out/$f"; fi
  done
  mkdir -p "$out/pmoves/tools"
  echo "# marker: upstream's CLI module lives here in a real checkout (see scripts/record-upstream.sh)" > "$out/pmoves/tools/mini_cli.py"
  rm -rf "$here/test/fixtures/upstream/recorded"
fi
node "$here/dist/test/upstream-runner.js" record "$up" "$py" "$@"
