#!/usr/bin/env bash
# Writes the 20 short AAC-style phrases of aac_phrases.txt (0.7–2.1 s) with
# espeak-ng (Debian, en-us voice) into DIR (default /tmp/avow-wm-phrases),
# for the short-utterance measurement of the watermark benchmark:
#   robustness ... --phrases DIR
set -euo pipefail
dir=${1:-/tmp/avow-wm-phrases}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
command -v espeak-ng >/dev/null || { echo "espeak-ng missing (apt-get install espeak-ng)" >&2; exit 1; }
i=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  i=$((i + 1))
  espeak-ng -v en-us -w "$dir/p$(printf %02d $i).wav" "$line"
done < "$here/aac_phrases.txt"
