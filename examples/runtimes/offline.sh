#!/usr/bin/env bash
# The runtimes example without a registry or the internet: stand-in images built from
# pmoves-test/busybox:latest (test/fixtures/runtime-peer: they answer whisper.cpp's /health and
# /inference, and OpenAI's /v1/models and /v1/chat/completions), model files served from a temp folder.
# Plans, applies (both ready from their APIs), shows status and models list, then tears down.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
export PMOVES_HOME=$work/home
cli() { node "$repo/dist/src/cli.js" mini "$@"; }
docker build -q -t pmoves-test/rt-openai:example "$repo/test/fixtures/runtime-peer" >/dev/null
printf 'FROM pmoves-test/rt-openai:example\nENTRYPOINT ["sh", "-c"]\n' | docker build -q -t pmoves-test/rt-whisper:example - >/dev/null
head -c 200000 /dev/urandom >"$work/speech.bin"
head -c 300000 /dev/urandom >"$work/chat.gguf"
python3 -m http.server 18430 --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$work"' EXIT
# The example, with the stand-in images added (a model's image: overrides the hardware table) and the
# files served from here with their own digests.
speech_sha=$(sha256sum "$work/speech.bin" | cut -c1-64)
chat_sha=$(sha256sum "$work/chat.gguf" | cut -c1-64)
sed -e '/runtime: whisper.cpp/a\    image: pmoves-test/rt-whisper:example' \
    -e '/runtime: llama.cpp/a\    image: pmoves-test/rt-openai:example' \
    -e 's/ready_timeout: 5m/ready_timeout: 60s/' \
    -e "/^  speech:/,/^  chat:/{s|url: .*|url: http://127.0.0.1:18430/speech.bin|;s|sha256: .*|sha256: $speech_sha|}" \
    -e "/^  chat:/,\${s|url: .*|url: http://127.0.0.1:18430/chat.gguf|;s|sha256: .*|sha256: $chat_sha|}" \
    "$repo/examples/runtimes/pmoves.mini.yaml" >"$work/pmoves.mini.yaml"
m=$work/pmoves.mini.yaml
cli plan -m "$m"
cli apply --auto-approve -m "$m"
cli status -m "$m"
cli models list -m "$m"
curl -s 127.0.0.1:18432/v1/models; echo
echo 'apiVersion: pmoves.ai/mini/v1' >"$m"
cli apply --auto-approve -m "$m"
