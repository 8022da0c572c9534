#!/usr/bin/env bash
# Robustness benchmark for the avow watermark (BENCHMARKS.md, section
# "watermark"). Installs ffmpeg/sox/espeak-ng from Debian if missing, makes
# the espeak-ng stand-in clips, and runs the harness on 50 clips of 5 s.
#   benches/watermark/run.sh [WORKDIR] [extra harness args...]
# Extra WAV clips (e.g. avow's own synthesized speech) can be added with
# `--extra DIR`; they count toward the clip set and the false-positive set.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-/tmp/avow-wm-bench}; shift || true
data=${AVOW_SHARED_DATA:-$root/../shared/data/librispeech}
if ! command -v ffmpeg >/dev/null || ! command -v sox >/dev/null || ! command -v espeak-ng >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg sox espeak-ng >/dev/null
fi
"$root/benches/watermark/make_espeak_clips.sh" "$work/espeak" >/dev/null
cd "$root"
cargo build --release -q -p avow-watermark --example robustness
bin=${CARGO_TARGET_DIR:-$root/target}/release/examples/robustness
if ! ls "$data"/test-other >/dev/null 2>&1; then echo "run.sh: no LibriSpeech at $data (set AVOW_SHARED_DATA)" >&2; exit 2; fi
"$bin" --data "$data" --extra "$work/espeak" --clips 50 --work "$work" --json "$work/avow.json" "$@" | tee "$work/avow.txt"
