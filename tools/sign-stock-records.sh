#!/usr/bin/env bash
# Signs the consent records of the 5 stock Kokoro voices with a fresh
# project stock-voice key, then destroys the private key.
#
#   tools/sign-stock-records.sh PACK_DIR
#
# PACK_DIR holds jf_alpha.voicepack ... jm_kumo.voicepack (the converted
# packs). Writes voices/<name>.consent.json and consent/trust/avow-stock.pub.
# Nothing is written unless all five records were signed and verified.
#
# Options (tests use them to keep the repository untouched):
#   --out-voices DIR   where the records go        (default: voices)
#   --out-trust DIR    where the public key goes   (default: consent/trust)
#   --force            replace an existing avow-stock.pub and records
# Environment: AVOW = path to the avow binary (default: cargo run -q -p avow-cli --).
#
# The key lives only in a private temporary directory (in /dev/shm when it
# exists) and is deleted on exit, success or not. Re-running makes a NEW key:
# the old records stop verifying, so commit the new key and records together.
set -euo pipefail

VOICES=(jf_alpha jf_gongitsune jf_nezumi jf_tebukuro jm_kumo)
NOT_BEFORE="2025-01-01T00:00:00Z"
# The key is destroyed after signing, so records cannot be renewed: give them
# a long life. They can still be withdrawn by shipping a build without the key.
NOT_AFTER="2125-01-01T00:00:00Z"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

out_voices=voices
out_trust=consent/trust
force=0
pack_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out-voices) out_voices="$2"; shift 2 ;;
    --out-trust) out_trust="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [ -z "$pack_dir" ] || usage; pack_dir="$1"; shift ;;
  esac
done
[ -n "$pack_dir" ] || usage

if [ -n "${AVOW:-}" ]; then avow=("$AVOW"); else avow=(cargo run -q -p avow-cli --); fi

for v in "${VOICES[@]}"; do
  [ -f "$pack_dir/$v.voicepack" ] || { echo "missing $pack_dir/$v.voicepack" >&2; exit 1; }
done
if [ "$force" = 0 ]; then
  for f in "$out_trust/avow-stock.pub" "${VOICES[@]/#/$out_voices/}"; do
    case "$f" in *.pub) t="$f" ;; *) t="$f.consent.json" ;; esac
    [ ! -e "$t" ] || { echo "$t exists; pass --force to replace it (this makes a new stock key)" >&2; exit 1; }
  done
fi

umask 077
shm=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && shm=/dev/shm
work=$(mktemp -d "$shm/avow-stock.XXXXXX")
cleanup() {
  if [ -f "$work/avow-stock.key" ]; then
    command -v shred >/dev/null && shred -u "$work/avow-stock.key" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/trust" "$work/records"
"${avow[@]}" keys new --out "$work/avow-stock" --comment "avow stock-voice key (private key destroyed after signing)" >/dev/null
cp "$work/avow-stock.pub" "$work/trust/avow-stock.pub"

for v in "${VOICES[@]}"; do
  statement="$v is a synthetic voice that ships with the Kokoro-82M text-to-speech model (v1.0) \
under the model's Apache-2.0 license. It is not the cloned voice of a person who gave consent to \
this project; the avow project signs this record so that stock voices pass through the same consent \
gate as every other voice. Any purpose, any language."
  "${avow[@]}" consent draft --pack "$pack_dir/$v.voicepack" --voice-name "$v" \
    --subject-name "$v (synthetic Kokoro-82M stock voice)" --purpose '*' --language '*' \
    --not-before "$NOT_BEFORE" --not-after "$NOT_AFTER" --statement "$statement" \
    --record-id "avow-stock-$v" --out "$work/records/$v.consent.json" >/dev/null
  "${avow[@]}" consent sign "$work/records/$v.consent.json" --key "$work/avow-stock.key" >/dev/null
  mkdir -p "$work/empty-revoked"
  "${avow[@]}" consent verify "$work/records/$v.consent.json" --pack "$pack_dir/$v.voicepack" \
    --purpose aac --language ja --trust "$work/trust" --revoked "$work/empty-revoked" >/dev/null
done

# The private key goes before anything leaves the scratch directory.
command -v shred >/dev/null && shred -u "$work/avow-stock.key" || rm -f "$work/avow-stock.key"
[ ! -e "$work/avow-stock.key" ]

mkdir -p "$out_voices" "$out_trust"
cp "$work/trust/avow-stock.pub" "$out_trust/avow-stock.pub"
for v in "${VOICES[@]}"; do cp "$work/records/$v.consent.json" "$out_voices/$v.consent.json"; done
echo "stock key $("${avow[@]}" keys id "$out_trust/avow-stock.pub"): signed ${#VOICES[@]} records into $out_voices; public key in $out_trust/avow-stock.pub; private key destroyed"
