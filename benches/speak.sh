#!/usr/bin/env bash
# Side-by-side speed of avow's Candle Kokoro and onnxruntime on the same int8
# weights and the same phoneme inputs, on 1 and 2 threads, in one run; then
# time to first audio of the engine's streaming path. Writes JSON reports to
# OUT (default /tmp/avow-speak-bench) and prints a Markdown table.
#
#   benches/speak.sh [OUT] [REPEATS]
#
# Needs: the model cache (`./avow models fetch`), and onnxruntime, numpy,
# soundfile for the reference (pip install -r tools/requirements-bench.txt).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-/tmp/avow-speak-bench}"
repeats="${2:-3}"
mkdir -p "$out"
cd "$top"
cargo build -q --release -p avow-engine --example speak_bench --example first_audio
for t in 1 2; do
  RAYON_NUM_THREADS=$t target/release/examples/speak_bench tools/ort_bench_sentences.json "$repeats" > "$out/candle-$t.json"
  RAYON_NUM_THREADS=$t target/release/examples/speak_bench tools/ort_bench_sentences.json "$repeats" --f32 > "$out/candle-f32-$t.json"
done
python3 tools/ort_bench.py --input tools/ort_bench_sentences.json --out "$out/ort" --threads 1,2 --repeats "$repeats" > "$out/ort.log" 2>&1
for t in 1 2; do
  RAYON_NUM_THREADS=$t target/release/examples/first_audio 5 --json > "$out/first-audio-$t.json"
done
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
ort = json.loads((out / "ort" / "report.json").read_text())
print("| engine | threads | RTF (wall) | CPU s per audio s | peak RSS MB |")
print("|---|---|---|---|---|")
for name, label in (("candle", "avow Candle (int8 kernels)"), ("candle-f32", "avow Candle, f32 only (`--f32`)")):
    for t in (1, 2):
        c = json.loads((out / f"{name}-{t}.json").read_text())
        if name == "candle" and not c.get("int8_kernels"):
            label = "avow Candle (no AVX-512 VNNI: f32)"
        print(f"| {label} | {t} | {c['rtf']:.2f} | {c['cpu_s_per_audio_s']:.2f} | {c['peak_rss_mb']:.0f} |")
for r in ort["configs"]:
    print(f"| onnxruntime {ort['onnxruntime']} | {r['threads']} | {r['rtf']:.2f} | {r['cpu_per_audio_s']:.2f} | {r['peak_rss_mb']:.0f} |")
for t in (1, 2):
    f = json.loads((out / f"first-audio-{t}.json").read_text())
    print(f"\nfirst audio, {t} thread(s), default schedule:")
    for r in f["rows"]:
        if "(default)" in r["schedule"]:
            print(f"  {r['first_audio_s_median']*1000:.0f} ms (first piece {r['first_piece_audio_s']:.2f} s of audio, stalls {r['stall_s_median']*1000:.0f} ms): {r['text']}")
PY
