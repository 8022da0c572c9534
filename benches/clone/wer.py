#!/usr/bin/env python3
"""Word error rate of clone and stock speech of the cloning benchmark's 10
evaluation sentences, from `avow transcribe --json` output.

  benches/clone/run.sh 16 /tmp/avow-clone-bench   # writes <speaker>-clone-NN.wav
                                                  # and <start voice>-NN.wav
  ./avow transcribe --json /tmp/avow-clone-bench/*.wav > asr.json
  python3 benches/clone/wer.py asr.json

Files are named <group>-<NN>.wav with NN the sentence index.
"""
import json, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
# The sentences live in one place, shared by the cloning and banking benches.
src = open(os.path.join(here, "../../crates/avow-clone/src/sentences.rs")).read()
start = src.index("pub const EVAL_EN")
sentences = re.findall(r'"([^"]+)"', src[start:src.index("];", start)])


def words(t):
    return re.sub(r"[^a-z0-9' ]", " ", t.lower()).split()


def edits(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[:], i
        for j in range(1, len(b) + 1):
            d[j] = min(prev[j] + 1, d[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
    return d[len(b)]


groups = {}
for item in json.load(open(sys.argv[1])):
    name = os.path.basename(item["file"])
    m = re.match(r"(.*?)-(\d\d)\.wav$", name)
    if not m:
        continue
    ref = words(sentences[int(m.group(2))])
    g = groups.setdefault(m.group(1), [0, 0])
    g[0] += edits(ref, words(item["text"]))
    g[1] += len(ref)
for name, (e, n) in sorted(groups.items()):
    print(f"{name}: WER {100 * e / n:.1f}% ({e}/{n} words)")
