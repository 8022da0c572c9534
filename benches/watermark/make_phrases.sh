#!/usr/bin/env bash
# Writes 20 short AAC-style phrases (0.7–2.1 s) with espeak-ng (Debian, en-us
# voice) into DIR (default /tmp/avow-wm-phrases), for the short-utterance
# measurement of the watermark benchmark:
#   robustness ... --phrases DIR
set -euo pipefail
dir=${1:-/tmp/avow-wm-phrases}
mkdir -p "$dir"
command -v espeak-ng >/dev/null || { echo "espeak-ng missing (apt-get install espeak-ng)" >&2; exit 1; }
i=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  i=$((i + 1))
  espeak-ng -v en-us -w "$dir/p$(printf %02d $i).wav" "$line"
done <<'TXT'
Yes.
No, thank you.
I need help.
Could you open the window, please?
Good morning, how are you today?
Thank you very much.
Stop.
I'm tired.
Please call my daughter.
Where is the bathroom?
I would like some water.
Can you turn the light off?
That hurts.
I love you.
See you tomorrow.
Wait a moment.
Not now.
I'm hungry.
What time is it?
Turn up the volume.
TXT
