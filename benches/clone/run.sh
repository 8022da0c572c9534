#!/usr/bin/env bash
# Cloning benchmark (issue #6): for each shared LibriSpeech speaker, enroll
# from 5 utterances, synthesize 10 new sentences with the clone, and compare
# with the 5 held-out utterances (GE2E cosine of centroids, rank among the 5
# speakers, F0 median by YIN). Clone audio (16 kHz) goes to OUT for the
# intelligibility check:
#   benches/clone/run.sh [STEPS] [OUT]
#   ./avow transcribe --json OUT/*.wav
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$top"
steps="${1:-16}"
out="${2:-/tmp/avow-clone-bench}"
cargo build -q --release -p avow-clone --example clone_bench
AVOW_SHARED_DATA="${AVOW_SHARED_DATA:-$top/../shared/data/librispeech}" ./target/release/examples/clone_bench --steps "$steps" --out "$out"
