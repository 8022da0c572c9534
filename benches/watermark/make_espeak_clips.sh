#!/usr/bin/env bash
# Writes stand-in "synthesized speech" clips with espeak-ng (Debian) into DIR
# (default /tmp/avow-wm-espeak): 20 sentences, alternating voices, each at
# least 5 s. Replace or extend DIR with avow's own output once it exists.
set -euo pipefail
dir=${1:-/tmp/avow-wm-espeak}
mkdir -p "$dir"
command -v espeak-ng >/dev/null || { echo "espeak-ng missing (apt-get install espeak-ng)" >&2; exit 1; }
voices=(en-us en-gb en-us+f3 en-gb+m3 en-us+f2)
i=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  v=${voices[$((i % ${#voices[@]}))]}
  espeak-ng -v "$v" -s 150 -w "$dir/espeak_$(printf %02d $i).wav" "$line"
  i=$((i + 1))
done <<'TXT'
The committee will meet again on Thursday afternoon to review the budget and decide which of the three proposals deserves funding this year.
When the rain finally stopped, the children ran outside and spent the whole evening building dams across the little stream behind the school.
Please remember to bring your identification card, a pen, and a copy of the signed agreement when you come to the office tomorrow morning.
The old lighthouse keeper climbed the narrow stairs every night for forty years, and he never once forgot to light the lamp before sunset.
Our train was delayed by almost an hour because of a signal failure near the station, so we missed the opening speech of the conference.
She opened the letter slowly, read it twice without saying a word, and then placed it carefully in the drawer beside her grandmother's photographs.
Researchers measured the temperature of the lake every week for a decade and found that the surface had warmed by nearly two degrees.
If you would like to change your appointment, call the clinic before five o'clock or leave a message with your name and phone number.
The orchestra rehearsed the final movement again and again until the conductor was satisfied that every instrument came in at the right moment.
Fresh bread, ripe tomatoes, a little olive oil and some salt are all you need for a simple lunch on a warm summer day.
After the storm, volunteers from the neighbouring villages helped to clear the fallen trees and repair the damaged roofs along the coast road.
The museum will be closed on Monday for maintenance, but the garden and the cafe will stay open from nine in the morning until six.
He practised the piano for an hour before breakfast every day, even during the holidays, because he wanted to play at his sister's wedding.
Most of the software was rewritten last spring, which made the system faster, easier to maintain, and much more pleasant for new developers.
The ship left the harbour just before dawn, carrying timber, wool and a small group of passengers who were travelling to the northern islands.
Doctors recommend at least seven hours of sleep each night, regular exercise, and plenty of water to stay healthy during the winter months.
The library has thousands of old maps, and some of them show rivers and roads that disappeared long before anyone alive today was born.
At the end of the match, both teams shook hands and thanked the referee, although the crowd was still arguing about the last penalty.
A small robot rolled across the laboratory floor, stopped in front of the door, and politely asked whether anyone had seen its charger.
The recipe says to bake the cake for forty minutes, but in our old oven it usually takes nearly an hour before the middle is firm.
TXT
echo "wrote $i clips to $dir"
