#!/usr/bin/env bash
# Speaks the 20 AAC-style phrases of aac_phrases.txt with `avow say` (stock
# voice, each phrase its own file and so its own marked stream) and checks
# each with `avow detect --json`; prints one JSON object per file and a
# count. The short-utterance row "avow say phrases" of BENCHMARKS.md.
#   benches/watermark/say_phrases.sh [DIR] [VOICE]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-/tmp/avow-wm-say-phrases}
voice=${2:-jf_alpha}
mkdir -p "$dir"
i=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  i=$((i + 1))
  "$root/avow" say "$line" --voice "$voice" --out "$dir/s$(printf %02d $i).wav" 2>/dev/null
done < "$root/benches/watermark/aac_phrases.txt"
# Exit status 3 means "some file carries no mark": a result here, not a failure.
status=0
"$root/avow" detect --json "$dir"/s*.wav > "$dir/detect.json" || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"
cat "$dir/detect.json"
python3 - "$dir/detect.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
found = sum(r["detected"] for r in rows)
print(f"avow say phrases: detected {found}/{len(rows)}, payload decoded {sum(r['payload'] is not None for r in rows)}")
PY
