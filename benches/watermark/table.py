#!/usr/bin/env python3
"""Prints the attack table of BENCHMARKS.md ("watermark") from the harness
JSON files: avow default, avow with --speed-search, and Perth.

  python3 benches/watermark/table.py AVOW.json AVOW_SPEED_SEARCH.json PERTH.json
"""
import json, sys

NAMES = {"none": "none", "resample16k": "resample 24k→16k→24k", "resample44k": "resample to 44.1 kHz",
         "mp3_64k": "MP3 64 kbps (libmp3lame)", "aac_64k": "AAC 64 kbps (ffmpeg aac)",
         "opus_32k": "Opus 32 kbps (libopus)", "white20": "white noise 20 dB SNR",
         "white30": "white noise 30 dB SNR", "pink20": "pink noise 20 dB SNR",
         "lowpass5k": "lowpass 5 kHz (sox sinc)", "highpass500": "highpass 500 Hz (sox sinc)",
         "bandpass300_8k": "bandpass 300–8000 Hz (sox sinc)", "gain-10": "gain −10 dB",
         "gain+6clip": "gain +6 dB, clipped", "echo": "echo 0.3 s, 0.4", "crop3s": "random 3 s crop",
         "splice": "spliced between 3 s of unmarked speech each side",
         "tempo+5": "time-stretch +5 % (sox tempo)", "tempo-5": "time-stretch −5 % (sox tempo)",
         "speed+5": "speed +5 % (sox speed: pitch too)", "speed-5": "speed −5 % (sox speed: pitch too)",
         "quant8": "8-bit quantization"}


def pct(n, d):
    return f"{100 * n / d:.0f} %"


def main():
    a, s, p = (json.load(open(f)) for f in sys.argv[1:4])
    srow = {r["attack"]: r for r in s["rows"]}
    prow = {r["attack"]: r for r in p["rows"]}
    print("| attack | avow detected | avow bit acc. | avow exact payload (wrong) | avow + speed search: detected / bit acc. | Perth detected |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in a["rows"]:
        k = r["attack"]
        loc = f" (localized {r['ranges_ok']}/{r['clips']})" if k == "splice" else ""
        sr, pr = srow.get(k), prow.get(k)
        ss = f"{pct(sr['detected'], sr['clips'])} / {100 * sr['bit_acc']:.2f} %" if sr else "–"
        pp = pct(pr["detected"], pr["clips"]) if pr else "–"
        print(f"| {NAMES.get(k, k)} | {pct(r['detected'], r['clips'])}{loc} | {100 * r['bit_acc']:.2f} % "
              f"| {r['payload_exact']}/{r['clips']} ({r.get('payload_wrong', 0)}) | {ss} | {pp} |")


if __name__ == "__main__":
    main()
