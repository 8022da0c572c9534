#!/usr/bin/env bash
# End-to-end dubbing benchmark on both 100-cue files (English SRT, Spanish
# WebVTT, same timing), stock voice jf_alpha:
#   1. the fit counts of each file (`--dry-run`: duration predictor only, the
#      same planner a real run uses);
#   2. full runs from an empty work directory for each --jobs value, timed:
#      minutes of dubbed speech per minute of wall time (model load included)
#      and per CPU minute (user + sys), with the load average alongside, since
#      the reference machine is shared.
# Prints Markdown tables.
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
files=("en-us:benches/dub/dialogue.en.srt" "es:benches/dub/dialogue.es.vtt")
for pair in "${files[@]}"; do
  lang="${pair%%:*}"; subs="${pair#*:}"; name="$(basename "$subs" | cut -d. -f2)"
  "$avow" dub --dry-run --voice jf_alpha --subs "$subs" --lang "$lang" --out "$out/$name-plan.wav" --report "$out/$name-plan.json" > "$out/$name-plan.log"
done
# One timed run; DUB_BENCH_CONCURRENT=1 starts all runs at once (what the
# figures in BENCHMARKS.md used, on a machine shared with other work:
# compare CPU-minute figures, not wall-clock ones, across runs).
one_run() {
  local jobs="$1" lang="$2" subs="$3" name="$4"
  rm -rf "$out/work-$name"
  local load_before; load_before=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S}' -o "$out/$name.time.json" \
    "$avow" dub --voice jf_alpha --subs "$subs" --lang "$lang" --jobs "$jobs" \
    --work-dir "$out/work-$name" --out "$out/$name.wav" --report "$out/$name.json" \
    --ledger "$out/ledger-$name.jsonl" > "$out/$name.log"
  echo "{\"load_before\": $load_before, \"load_after\": $(cut -d' ' -f1 /proc/loadavg)}" > "$out/$name.load.json"
  rm -rf "$out/work-$name"
}
for jobs in $jobs_list; do
  for pair in "${files[@]}"; do
    lang="${pair%%:*}"; subs="${pair#*:}"; name="$(basename "$subs" | cut -d. -f2)-j$jobs"
    if [ "${DUB_BENCH_CONCURRENT:-0}" = 1 ]; then
      one_run "$jobs" "$lang" "$subs" "$name" &
    else
      one_run "$jobs" "$lang" "$subs" "$name"
    fi
  done
done
wait
python3 - "$out" $jobs_list <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("| file | cues | fit | sped up | stretched | overran | squeezed | cut | skipped | speech (min) | track (min) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for lang in ("en", "es"):
    r = json.loads((out / f"{lang}-plan.json").read_text())
    c = r["counts"]
    print(f"| dialogue.{lang} | {len(r['cues'])} | {c['fit']} | {c['sped_up']} | {c['stretched']} | {c['overran']} | {c['squeezed']} | {c['cut']} | {c['skipped']} | {r['speech_seconds']/60:.2f} | {r['duration']/60:.2f} |")
print()
print("| file | jobs | speech (min) | wall (min) | CPU (min) | speech min / wall min | speech min / CPU min | load avg before → after |")
print("|---|---|---|---|---|---|---|---|")
for jobs in sys.argv[2:]:
    for lang in ("en", "es"):
        name = f"{lang}-j{jobs}"
        if not (out / f"{name}.json").exists():
            continue
        r = json.loads((out / f"{name}.json").read_text())
        t = json.loads((out / f"{name}.time.json").read_text())
        l = json.loads((out / f"{name}.load.json").read_text())
        cpu = t["user_s"] + t["sys_s"]
        s = r["speech_seconds"]
        print(f"| dialogue.{lang} | {jobs} | {s/60:.2f} | {t['wall_s']/60:.2f} | {cpu/60:.2f} | {s/t['wall_s']:.2f} | {s/cpu:.2f} | {l['load_before']} → {l['load_after']} |")
PY
