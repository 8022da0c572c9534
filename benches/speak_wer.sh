#!/usr/bin/env bash
# Intelligibility of `avow say` (our front end + Candle Kokoro + watermark)
# against onnxruntime running the same int8 model on espeak-ng's phonemes of
# the same sentences: every sentence of tools/sentences_en.txt spoken with each
# stock voice by both, transcribed by Whisper tiny.en, scored by WER.
#
#   benches/speak_wer.sh [OUT] [VOICES...]
#
# Needs the model cache and tools/requirements-bench.txt + requirements-whisper.txt.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-/tmp/avow-speak-wer}"
shift || true
voices=("$@")
[ ${#voices[@]} -gt 0 ] || voices=(jf_alpha jf_gongitsune jf_nezumi jf_tebukuro jm_kumo)
cd "$top"
cargo build -q --release -p avow-cli
mkdir -p "$out"
for v in "${voices[@]}"; do
  mkdir -p "$out/avow-$v"
  n=0
  grep -v '^#' tools/sentences_en.txt | grep -v '^[[:space:]]*$' | while IFS= read -r line; do
    n=$((n + 1))
    AVOW_LEDGER="$out/ledger.jsonl" target/release/avow say "$line" --voice "$v" --out "$(printf '%s/avow-%s/%02d.wav' "$out" "$v" "$n")"
  done
  python3 tools/whisper_wer.py --sentences tools/sentences_en.txt --audio-dir "$out/avow-$v" > "$out/wer-avow-$v.json"
  python3 tools/ort_bench.py --sentences tools/sentences_en.txt --voice "$v" --out "$out/ort-$v" --repeats 1 --threads 1 > /dev/null 2>&1
  python3 tools/whisper_wer.py --sentences tools/sentences_en.txt --audio-dir "$out/ort-$v/wav" > "$out/wer-ort-$v.json"
done
python3 - "$out" "${voices[@]}" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("| voice | WER avow (Candle, our front end) | WER onnxruntime (espeak-ng phonemes) |")
print("|---|---|---|")
for v in sys.argv[2:]:
    a = json.loads((out / f"wer-avow-{v}.json").read_text())
    o = json.loads((out / f"wer-ort-{v}.json").read_text())
    print(f"| {v} | {a['total']['wer']*100:.1f}% | {o['total']['wer']*100:.1f}% |")
PY
