#!/usr/bin/env bash
# Latency from text in to first audio out for screen readers and embedders.
#
#   benches/latency/first_audio.sh [REPEATS] [OUT]
#
# 1. `avow say --out -` on the stock voice, one process per utterance: what
#    the speech-dispatcher generic module (docs/speech-dispatcher/avow.conf)
#    pays for each message: process start, model load, front end, the first
#    sentence's synthesis, watermark and ledger fsync. Timed from just before
#    the text is piped in to the first PCM byte on standard output, and to the
#    end of the audio.
# 2. The C ABI with the engine loaded once (first_audio_capi.c): from
#    avow_stream() to the first callback.
# Prints medians (ms) per text as a Markdown table, wall time and CPU time
# (user + system, all threads: on a busy machine the wall time mostly measures
# the other load, the CPU time much less); raw runs go to OUT.
# Needs /usr/bin/time (Debian package `time`).
# Needs the model cache (`avow models fetch`). Ledger entries go to OUT.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
repeats="${1:-5}"
out="${2:-/tmp/avow-first-audio}"
mkdir -p "$out"
cd "$top"
cargo build -q --release -p avow-cli -p avow-capi
avow="$top/target/release/avow"
cc -O2 -std=c11 -I crates/avow-capi/include benches/latency/first_audio_capi.c \
  "$top/target/release/libavow_capi.so" -Wl,-rpath,"$top/target/release" -o "$out/first_audio_capi"

texts=(
  "Open."
  "File menu, Open, Save As, Close."
  "The meeting is on March 3rd, at 10:30. Please bring the printed agenda with you."
)
export AVOW_LEDGER="$out/ledger.jsonl"

ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

: > "$out/cli.txt"
for i in "${!texts[@]}"; do
  for _ in $(seq "$repeats"); do
    t0=$(date +%s%N)
    printf %s "${texts[$i]}" \
      | /usr/bin/time -f "%U %S" -o "$out/cpu" "$avow" say --out - --voice jf_alpha --purpose accessibility --lang en-us \
      | { head -c 1 > /dev/null; date +%s%N > "$out/first"; cat > /dev/null; }
    t1=$(date +%s%N)
    cpu=$(awk '{ printf "%d", ($1 + $2) * 1000 }' "$out/cpu")
    echo "cli $(ms "$t0" "$(cat "$out/first")") $(ms "$t0" "$t1") $i $cpu" >> "$out/cli.txt"
  done
done
"$out/first_audio_capi" "$out/ledger-capi.jsonl" "$repeats" "${texts[@]}" > "$out/capi.txt"

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| text | avow say --out -: first byte | all audio | CPU of the whole process | C ABI, engine loaded: first audio | CPU to first audio |"
echo "|---|---|---|---|---|---|"
for i in "${!texts[@]}"; do
  first=$(awk -v i="$i" '$4 == i { print $2 }' "$out/cli.txt" | median)
  total=$(awk -v i="$i" '$4 == i { print $3 }' "$out/cli.txt" | median)
  cli_cpu=$(awk -v i="$i" '$4 == i { print $5 }' "$out/cli.txt" | median)
  capi=$(awk -v i="$i" '$1 == "capi" && $3 == i { print $2 }' "$out/capi.txt" | median)
  capi_cpu=$(awk -v i="$i" '$1 == "capi" && $3 == i { print $4 }' "$out/capi.txt" | median)
  echo "| ${texts[$i]} | $first ms | $total ms | $cli_cpu ms | $capi ms | $capi_cpu ms |"
done
echo "C ABI engine open (model load): $(awk '$1 == "open" { print $2 }' "$out/capi.txt") ms"
