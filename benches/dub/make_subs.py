#!/usr/bin/env python3
"""Writes dialogue.en.srt and dialogue.es.vtt from dialogue.tsv.

Both files share one timing, as dubbing subtitles do: cue lengths follow the
English line at a natural 14 characters per second (plus 0.3 s, between
1.0 and 6.0 s), gaps are 0.15-1.2 s (longer after a question), from a fixed
seed. The Spanish lines run about 15 % longer than the English ones, which
is what exercises the timing fit. A few cues carry styling to strip.
Run: python3 benches/dub/make_subs.py (output is committed).
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def stamp(ms, sep):
    return f"{ms // 3600000:02}:{ms // 60000 % 60:02}:{ms // 1000 % 60:02}{sep}{ms % 1000:03}"


def main():
    rows = []
    with open(os.path.join(HERE, "dialogue.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            en, es = line.rstrip("\n").split("\t")
            rows.append((en, es))
    rng = random.Random(8)
    t = 1000
    times = []
    for en, _ in rows:
        dur = int(min(6.0, max(1.0, len(en) / 14.0 + 0.3)) * 1000)
        times.append((t, t + dur))
        gap = rng.uniform(0.15, 1.2) + (0.5 if en.endswith("?") else 0.0)
        t += dur + int(gap * 1000)
    speakers = ["Marta", "Leo"]
    with open(os.path.join(HERE, "dialogue.en.srt"), "w", encoding="utf-8", newline="\r\n") as f:
        for i, ((start, end), (en, _)) in enumerate(zip(times, rows)):
            text = en
            if i % 17 == 5:
                text = "<i>" + en + "</i>"
            if i % 23 == 7:
                text = "{\\an8}" + en
            if len(text) > 42 and " " in text[20:]:
                cut = text.index(" ", 20)
                text = text[:cut] + "\n" + text[cut + 1:]
            f.write(f"{i + 1}\n{stamp(start, ',')} --> {stamp(end, ',')}\n{text}\n\n")
    with open(os.path.join(HERE, "dialogue.es.vtt"), "w", encoding="utf-8") as f:
        f.write("WEBVTT\n\nNOTE Radio Costa, doblaje al español. Misma temporización que dialogue.en.srt.\n\n")
        for i, ((start, end), (_, es)) in enumerate(zip(times, rows)):
            who = speakers[i % 2]
            settings = " line:90%" if i % 11 == 3 else ""
            f.write(f"c{i + 1}\n{stamp(start, '.')} --> {stamp(end, '.')}{settings}\n<v {who}>{es}</v>\n\n")
    print(f"{len(rows)} cues, {times[-1][1] / 1000:.1f} s")


if __name__ == "__main__":
    main()
