#!/usr/bin/env python3
"""Throughput of dubbing runs that are still going (or were stopped early).

For every running `avow dub ... --work-dir DIR` process, reads the cue files
finished so far in DIR/cues (AVOWCUE1: 8-byte magic, u64 sample count, f32
samples at 24 kHz, sha256) and the process's CPU time from /proc, and prints
seconds of speech made, wall time since the process started (model load and
timing included), CPU time (user + sys, all threads), and both ratios.

Used when a machine shared with other work is too slow to finish
benches/dub/run.sh within a session:
    python3 benches/dub/snapshot.py [OUT]      (default OUT /tmp/avow-dub-bench)
"""
import os
import pathlib
import struct
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/avow-dub-bench")
tick = os.sysconf("SC_CLK_TCK")
uptime = float(open("/proc/uptime").read().split()[0])
print("| run | cues done | speech (min) | wall (min) | CPU (min) | speech min / wall min | speech min / CPU min |")
print("|---|---|---|---|---|---|---|")
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    args = [a.decode(errors="replace") for a in argv if a]
    if len(args) < 2 or not args[0].endswith("avow") or args[1] != "dub" or "--work-dir" not in args:
        continue
    work = pathlib.Path(args[args.index("--work-dir") + 1])
    if not work.is_absolute() or out not in work.parents:
        continue
    fields = stat[stat.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / tick
    wall = uptime - int(fields[19]) / tick
    samples = 0
    done = 0
    for f in (work / "cues").glob("*.cue"):
        head = f.open("rb").read(16)
        if head[:8] == b"AVOWCUE1":
            samples += struct.unpack("<Q", head[8:16])[0]
            done += 1
    speech = samples / 24000
    print(f"| {work.name} | {done} | {speech/60:.2f} | {wall/60:.2f} | {cpu/60:.2f} | {speech/wall:.3f} | {speech/cpu:.3f} |")
