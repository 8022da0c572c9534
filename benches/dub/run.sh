#!/usr/bin/env bash
# End-to-end dubbing benchmark: both 100-cue files (English SRT, Spanish
# WebVTT, same timing) with --jobs 1 and 2, each from an empty work
# directory. Prints the fit counts and the throughput in minutes of dubbed
# speech per minute of wall time (model load included), as a Markdown table.
#
#   benches/dub/run.sh [OUT] [JOBS...]      (default OUT /tmp/avow-dub-bench, JOBS "1 2")
#
# Needs the model cache (`avow models fetch`). Uses the dev profile, in which
# the model crate and every dependency are built at opt-level 3.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/avow-dub-bench}"
shift || true
jobs_list="${*:-1 2}"
mkdir -p "$out"
cd "$top"
cargo build -q -j2 -p avow-cli
avow="$top/target/debug/avow"
export AVOW_LEDGER="$out/ledger.jsonl"
for jobs in $jobs_list; do
  for pair in "en-us:benches/dub/dialogue.en.srt" "es:benches/dub/dialogue.es.vtt"; do
    lang="${pair%%:*}"
    subs="${pair#*:}"
    name="$(basename "$subs" | cut -d. -f2)-j$jobs"
    rm -rf "$out/work-$name"
    start=$(date +%s.%N)
    "$avow" dub --voice jf_alpha --subs "$subs" --lang "$lang" --jobs "$jobs" \
      --work-dir "$out/work-$name" --out "$out/$name.wav" --report "$out/$name.json" > "$out/$name.log"
    end=$(date +%s.%N)
    echo "{\"wall_s\": $(echo "$end - $start" | bc)}" > "$out/$name.time.json"
    rm -rf "$out/work-$name"
  done
done
python3 - "$out" $jobs_list <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("| file | jobs | cues | fit | sped up | stretched | overran | squeezed | cut | speech (min) | wall (min) | speech min / wall min |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for jobs in sys.argv[2:]:
    for lang in ("en", "es"):
        name = f"{lang}-j{jobs}"
        r = json.loads((out / f"{name}.json").read_text())
        wall = json.loads((out / f"{name}.time.json").read_text())["wall_s"]
        c = r["counts"]
        n = len(r["cues"])
        speech = r["speech_seconds"]
        print(f"| dialogue.{lang} | {jobs} | {n} | {c['fit']} | {c['sped_up']} | {c['stretched']} | {c['overran']} | {c['squeezed']} | {c['cut']} | {speech/60:.2f} | {wall/60:.2f} | {speech/wall:.2f} |")
PY
