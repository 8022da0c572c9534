#!/usr/bin/env bash
# Voice-banking benchmark (issue #7): for each shared LibriSpeech speaker,
# bank the first 5 utterances (the 5th held out for early stopping), adapt
# the closest stock voice, and compare start and adapted voices against the
# 5 never-seen utterances (GE2E, rank, mel-cepstral distance, F0). Writes
# 16 kHz clips and the adapted packs to OUT.
#   benches/bank/run.sh [STEPS] [OUT] [--speakers 1688,1998] [--bank K] [--clone-steps N] [--validate-every N]
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$top"
steps="${1:-150}"
out="${2:-/tmp/avow-bank-bench}"
shift $(( $# > 2 ? 2 : $# ))
cargo build -q --release -p avow-bank --example bank_bench
AVOW_SHARED_DATA="${AVOW_SHARED_DATA:-$top/../shared/data/librispeech}" \
    ./target/release/examples/bank_bench --steps "$steps" --out "$out" "$@"
