#!/usr/bin/env bash
# How long `avow say` takes to refuse a voice whose consent record does not
# verify: an unsigned draft (exit 13), an expired record (16), a revoked one
# (17). The consent gate runs before the model loads, so a refusal should cost
# process start plus a record check, not the seconds of a model load.
#
#   benches/consent/refusal_time.sh [AVOW_BINARY] [REPEATS]
#
# Builds its fixtures with the binary itself (a fresh issuer key, records
# over the stock jf_alpha pack from the model cache) in a temporary directory;
# prints the median wall time per case in ms and checks every exit code.
# Needs the model cache (`avow models fetch`) for the stock pack only.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
avow="${1:-$top/target/release/avow}"
repeats="${2:-5}"
cache="${AVOW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/avow}"
pack_src="$cache/voices/jf_alpha.voicepack"
[ -x "$avow" ] || { echo "no binary at $avow (cargo build --release -p avow-cli)" >&2; exit 1; }
[ -f "$pack_src" ] || { echo "no stock pack at $pack_src (avow models fetch)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/trust" "$work/revoked" "$work/keys"
cp "$pack_src" "$work/voice.voicepack"
"$avow" keys new --out "$work/keys/issuer" --comment "refusal bench issuer" >/dev/null
cp "$work/keys/issuer.pub" "$work/trust/"

draft() { # NAME [extra draft args...]
  local name="$1"; shift
  "$avow" consent draft --pack "$work/voice.voicepack" --subject-name "Bench Voice" --purpose accessibility \
    --language en --statement "I agree to this benchmark." --out "$work/$name.json" "$@" >/dev/null
}
draft unsigned --valid-days 30
draft expired --not-before 2020-01-01T00:00:00Z --not-after 2020-02-01T00:00:00Z
"$avow" consent sign --key "$work/keys/issuer.key" "$work/expired.json" >/dev/null
draft revoked --valid-days 30
"$avow" consent sign --key "$work/keys/issuer.key" "$work/revoked.json" >/dev/null
"$avow" consent revoke --key "$work/keys/issuer.key" --revoked "$work/revoked" "$work/revoked.json" >/dev/null

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "| record | exit code | median ms (of $repeats) |"
echo "|---|---|---|"
for case in unsigned:13 expired:16 revoked:17; do
  name="${case%%:*}"; want="${case##*:}"
  times=()
  for _ in $(seq "$repeats"); do
    start=$(date +%s%N)
    set +e
    # The revocation directory goes through the environment, which every
    # version of `avow say` reads (newer ones also take --revoked DIR).
    AVOW_REVOCATION_DIR="$work/revoked" AVOW_LEDGER="$work/ledger.jsonl" \
      "$avow" say "Hello." --voice "$work/voice.voicepack" --consent "$work/$name.json" \
      --trust "$work/trust" --out "$work/out.wav" 2>"$work/stderr"
    code=$?
    set -e
    end=$(date +%s%N)
    if [ "$code" != "$want" ]; then
      echo "$name: exit code $code, expected $want: $(cat "$work/stderr")" >&2
      exit 1
    fi
    times+=($(( (end - start) / 1000000 )))
  done
  echo "| $name | $want | $(printf '%s\n' "${times[@]}" | median) |"
done
