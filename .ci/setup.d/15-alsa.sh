#!/usr/bin/env bash
# ALSA headers for `--play` (cargo feature `audio-device` of avow-cli, through
# cpal/alsa-sys). Only building with that feature needs them; no sound device
# is needed to build or test. Idempotent.
set -euo pipefail
need=()
for p in libasound2-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
