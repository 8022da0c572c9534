#!/usr/bin/env bash
# avow-phonemize links espeak-ng 1.51 (Debian bookworm); its data lives in
# espeak-ng-data. The espeak-ng command line is used by tests that compare
# the library's output with the CLI's. Idempotent.
set -euo pipefail
need=()
for p in libespeak-ng-dev espeak-ng-data espeak-ng; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
