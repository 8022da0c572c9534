#!/usr/bin/env bash
# speech-dispatcher (with its generic output module and audio plugins) for
# crates/avow-cli/tests/speechd_cli.rs, which drives a private headless
# speech-dispatcher through docs/speech-dispatcher/avow.conf with spd-say.
# No sound card or sound server is needed (the test sends ALSA to a null
# device). Idempotent.
set -euo pipefail
need=()
for p in speech-dispatcher speech-dispatcher-audio-plugins; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
