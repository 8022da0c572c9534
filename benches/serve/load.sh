#!/usr/bin/env bash
# Load test of `avow serve`: CLIENTS concurrent clients sending short speech
# requests back to back for SECONDS, in two configurations:
#   fits      --max-concurrency CONC --queue CLIENTS-CONC  (everyone fits: 0 errors expected)
#   saturated --max-concurrency CONC --queue 1             (429s expected, never a hang)
# then a kill -9 of the server in the middle of a run, after which the
# ledger must verify (or report exactly one torn final entry, exit 23).
# Each run's ledger is checked with `avow audit verify`. JSON reports go to OUT.
#
#   benches/serve/load.sh [CLIENTS] [SECONDS] [OUT]
#
# Needs the model cache (`avow models fetch`). PROFILE=dev uses the dev build
# (dependencies and the model are optimized there too) instead of release.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
clients="${1:-8}"
seconds="${2:-60}"
out="${3:-/tmp/avow-serve-bench}"
conc="${CONC:-2}"
# Long enough that queued requests wait rather than time out, even on a busy machine.
queue_timeout="${QUEUE_TIMEOUT:-600}"
mkdir -p "$out"
cd "$top"
if [ "${PROFILE:-release}" = dev ]; then
  cargo build -q -p avow-cli -p avow-serve --example serve_load
  bin=target/debug
else
  cargo build -q --release -p avow-cli -p avow-serve --example serve_load
  bin=target/release
fi
avow="$bin/avow"
load="$bin/examples/serve_load"

server_pid=""
start_server() { # NAME ARGS...
  local name="$1"; shift
  rm -f "$out/$name.ledger.jsonl" "$out/$name.ledger.jsonl.head"
  AVOW_LEDGER="$out/$name.ledger.jsonl" "$avow" serve --listen 127.0.0.1:0 "$@" \
    > "$out/$name.server.out" 2> "$out/$name.server.log" &
  server_pid=$!
  for _ in $(seq 600); do
    grep -q '^listening on ' "$out/$name.server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$out/$name.server.log"; exit 1; }
    sleep 0.1
  done
  addr="$(sed -n 's/^listening on http:\/\///p' "$out/$name.server.out")"
}
stop_server() {
  kill -TERM "$server_pid"; wait "$server_pid" || true
}
verify() { # NAME
  local code=0
  "$avow" audit verify "$out/$1.ledger.jsonl" > "$out/$1.verify" 2>&1 || code=$?
  echo "$1: audit verify exit $code: $(cat "$out/$1.verify")"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start_server fits --max-concurrency "$conc" --queue "$((clients - conc))" --queue-timeout "$queue_timeout"
"$load" "$addr" "$clients" "$seconds" pcm > "$out/fits.json"
stop_server
verify fits

start_server saturated --max-concurrency "$conc" --queue 1 --queue-timeout "$queue_timeout"
"$load" "$addr" "$clients" "$seconds" pcm > "$out/saturated.json"
stop_server
verify saturated

start_server killed --max-concurrency "$conc" --queue "$((clients - conc))" --queue-timeout "$queue_timeout"
"$load" "$addr" "$clients" "$seconds" pcm > "$out/killed.json" 2> "$out/killed.client.log" &
load_pid=$!
# Kill in the middle of the run: once a few pieces are ledgered, while syntheses are still going.
for _ in $(seq "$((seconds * 10))"); do
  [ "$(cat "$out/killed.ledger.jsonl" 2>/dev/null | wc -l)" -ge 3 ] && break
  sleep 0.1
done
sleep 0.5
kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null || true
echo "killed: server killed with $(wc -l < "$out/killed.ledger.jsonl") ledger entries written"
wait "$load_pid" || true
verify killed
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$clients" "$conc" <<'PY'
import json, sys, pathlib
out, clients, conc = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print("| run | clients | slots + queue | requests/s | audio s per s | first byte p50 / p95 / p99 (s) | last byte p50 / p95 (s) | 200 | 429 | 503 | other errors |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name, queue in (("fits", clients - conc), ("saturated", 1)):
    r = json.loads((out / f"{name}.json").read_text())
    s = r["statuses"]; f = r["first_byte_s"]; l = r["last_byte_s"]
    other = r["io_errors"] + r["incomplete_streams"] + sum(v for k, v in s.items() if k not in ("200", "429", "503"))
    fmt = lambda v: "-" if v is None else f"{v:.2f}"
    print(f"| {name} | {r['clients']} | {conc} + {queue} | {r['requests_per_s']:.2f} | {r['audio_s_per_s']:.2f} | "
          f"{fmt(f['p50'])} / {fmt(f['p95'])} / {fmt(f['p99'])} | {fmt(l['p50'])} / {fmt(l['p95'])} | "
          f"{s.get('200', 0)} | {s.get('429', 0)} | {s.get('503', 0)} | {other} |")
PY
