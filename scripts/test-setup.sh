#!/usr/bin/env bash
# What the tests need besides `npm ci`, on a fresh Debian machine (as root): the system tools they run
# for real (git, gpg, ssh-keygen, script, mosquitto, openssl, systemd-analyze, socat, chromium) and a Docker Engine
# with both compose generations (../shared/scripts/docker-engine.sh). Installs only what is missing.
# Used by README's test command and by .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
command -v git >/dev/null 2>&1 || need+=(git)
command -v gpg >/dev/null 2>&1 || need+=(gnupg)               # watch --verify-signatures tests
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v script >/dev/null 2>&1 || need+=(util-linux)       # TTY tests run the CLI on a real pty
command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)     # fleet tests start their own broker on 127.0.0.1
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || need+=(openssl)         # fleet TLS tests make their certificates
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd) # watch-unit: systemd-analyze verify of the printed unit
command -v socat >/dev/null 2>&1 || need+=(socat)             # edge tests: a pty pair for the ESP32 serial peer
command -v chromium >/dev/null 2>&1 || need+=(chromium)       # ui-browser: the page in headless Chromium (puppeteer-core)
/usr/bin/python3 -c 'import serial, bitstring, intelhex, ecdsa, cryptography, yaml' 2>/dev/null || need+=(python3-serial python3-bitstring python3-intelhex python3-ecdsa python3-cryptography python3-yaml) # esptool v4.8.1 checks the ESP32 peer
command -v curl >/dev/null 2>&1 || need+=(curl)               # docs runner: docs/watch.md's walkthrough reads /metrics
if ((${#need[@]})); then
  echo "test-setup: installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || exit 1
fi

# A real dockerd with compose v2 (plugin) and v1 (docker-compose), and the test image.
bash ../shared/scripts/docker-engine.sh || exit 1
