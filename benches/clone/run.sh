#!/usr/bin/env bash
# Cloning benchmark (issue #6): for each shared LibriSpeech speaker, enroll
# from 5 utterances, synthesize 10 new sentences with the clone, and compare
# with the 5 held-out utterances (GE2E cosine of centroids, rank among the 5
# speakers, F0 median by YIN), and the mel-cepstral distance of the start
# voice and of the clone, saying the held-out utterances' text, to those
# recordings. Clone and start-voice audio (16 kHz) goes to OUT for the
# intelligibility check:
#   benches/clone/run.sh [STEPS] [OUT]
#   ./avow transcribe --json OUT/*.wav > asr.json && python3 benches/clone/wer.py asr.json
# AVOW_BENCH_PROFILE=dev uses the dev profile instead of release (it builds
# the dependencies and avow-kokoro at opt-level 3 too, and reuses the
# workspace's dev build instead of building every dependency again).
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$top"
steps="${1:-16}"
out="${2:-/tmp/avow-clone-bench}"
profile="${AVOW_BENCH_PROFILE:-release}"
case "$profile" in
  release) cargo build -q --release -p avow-clone --example clone_bench; dir=release ;;
  dev) cargo build -q -p avow-clone --example clone_bench; dir=debug ;;
  *) echo "AVOW_BENCH_PROFILE must be release or dev, not $profile" >&2; exit 2 ;;
esac
AVOW_SHARED_DATA="${AVOW_SHARED_DATA:-$top/../shared/data/librispeech}" "./target/$dir/examples/clone_bench" --steps "$steps" --out "$out"
