#!/usr/bin/env python3
"""Reference fixtures for the Candle GE2E speaker encoder (crates/avow-speaker).

Runs the real resemblyzer 0.1.4 (PyTorch + librosa) on a few shared
LibriSpeech files and writes what the Rust port must reproduce:

  crates/avow-speaker/tests/fixtures/ge2e_reference.json

For each file: the utterance embedding of `VoiceEncoder.embed_utterance` on
the volume-normalized samples (resemblyzer's `normalize_volume(-30 dBFS,
increase_only=True)`), the number of partials, the first partial embedding
and a few mel frames of the (zero-padded) utterance.

resemblyzer's webrtcvad silence trimming is NOT applied for those: the Rust
port does not reimplement webrtcvad (see the avow-speaker docs), so the parity
test compares `embed_utterance` on identical samples. When webrtcvad is
installed (`pip install webrtcvad-wheels`), each entry also gets
`embedding_preprocessed`: resemblyzer's full `preprocess_wav` (volume
normalization and webrtcvad trimming) then `embed_utterance`, which the Rust
energy-based `frontend::preprocess` is compared with (loosely: the two voice
detectors differ). Without webrtcvad a stand-in module is registered only so
that `resemblyzer.audio` can be imported, and those entries are omitted.

One-off use (torch, librosa, numpy, soundfile installed; resemblyzer without
its dependencies):

  python3 -m venv --system-site-packages /tmp/ge2e-venv
  /tmp/ge2e-venv/bin/pip install --no-deps resemblyzer==0.1.4
  /tmp/ge2e-venv/bin/python tools/make_ge2e_fixtures.py [--data ../shared/data/librispeech]
"""

import argparse
import json
import sys
import types
from pathlib import Path

import numpy as np
import soundfile as sf

try:
    import webrtcvad  # noqa: F401
    HAVE_VAD = True
except ImportError:
    sys.modules["webrtcvad"] = types.ModuleType("webrtcvad")
    HAVE_VAD = False

import librosa  # noqa: E402
import torch  # noqa: E402
from resemblyzer import VoiceEncoder, audio  # noqa: E402
from resemblyzer.hparams import audio_norm_target_dBFS  # noqa: E402

# One file per test-other speaker (short and long ones) plus one
# train-clean-100 speaker: relative to the LibriSpeech folder.
FILES = [
    "test-other/1688/1688-142285-0002.flac",
    "test-other/1688/1688-142285-0000.flac",
    "test-other/1998/1998-15444-0001.flac",
    "test-other/2033/2033-164914-0003.flac",
    "test-other/2609/2609-156975-0003.flac",
    "test-other/3080/3080-5032-0001.flac",
    "train-clean-100/103-1240-0000.flac",
    # The same file at 1/20 of its level, so that the -30 dBFS volume
    # normalization (increase only) is exercised.
    ("test-other/2033/2033-164914-0003.flac", 0.05),
]

# A file with silence added at both ends and in the middle, for the
# comparison of full preprocessing (resemblyzer's webrtcvad trimming vs the
# Rust energy-based trimming): seconds before, in the middle, after.
SILENCE_CASE = ("test-other/1688/1688-142285-0001.flac", (1.0, 1.5, 1.0))


def r(x):
    return [float(f"{v:.7g}") for v in np.asarray(x, dtype=np.float64).ravel()]


def main():
    ap = argparse.ArgumentParser()
    here = Path(__file__).resolve().parent.parent
    # The shared data sits next to the checkout (../shared) or, from a
    # worktree under wt/, one level further up.
    default = next((p / "shared/data/librispeech" for p in here.parents
                    if (p / "shared/data/librispeech").is_dir()), here.parent / "shared/data/librispeech")
    ap.add_argument("--data", default=str(default))
    ap.add_argument("--out", default=str(here / "crates/avow-speaker/tests/fixtures/ge2e_reference.json"))
    a = ap.parse_args()
    data = Path(a.data)
    if not data.is_dir():
        sys.exit(f"no LibriSpeech folder at {data}")
    torch.set_num_threads(1)
    enc = VoiceEncoder(device="cpu", verbose=False)
    out = {
        "generator": "tools/make_ge2e_fixtures.py",
        "resemblyzer": "0.1.4",
        "torch": torch.__version__,
        "librosa": librosa.__version__,
        "preprocess": "normalize_volume(-30 dBFS, increase_only) only; no webrtcvad trim",
        "files": [],
    }
    for entry in FILES + [SILENCE_CASE]:
        rel, scale = entry if isinstance(entry, tuple) else (entry, 1.0)
        silence = None
        if isinstance(scale, tuple):
            silence, scale = scale, 1.0
        wav, sr = sf.read(data / rel, dtype="float32")
        wav = (wav * np.float32(scale)).astype(np.float32)
        if silence is not None:
            z = lambda secs: np.zeros(int(secs * sr), dtype=np.float32)  # noqa: E731
            half = len(wav) // 2
            wav = np.concatenate([z(silence[0]), wav[:half], z(silence[1]), wav[half:], z(silence[2])])
        if wav.ndim > 1:
            sys.exit(f"{rel}: expected mono")
        if sr != 16000:
            sys.exit(f"{rel}: expected 16 kHz, got {sr}")
        norm = audio.normalize_volume(wav, audio_norm_target_dBFS, increase_only=True).astype(np.float32)
        gain = float(norm[np.argmax(np.abs(wav))] / wav[np.argmax(np.abs(wav))])
        embed, partials, wav_slices = enc.embed_utterance(norm, return_partials=True)
        padded_len = max(wav_slices[-1].stop, len(norm))
        padded = np.pad(norm, (0, padded_len - len(norm)), "constant")
        mel = audio.wav_to_mel_spectrogram(padded)
        idx = sorted({0, 1, 2, mel.shape[0] // 2, mel.shape[0] - 1})
        record = {
            "path": rel,
            "scale": scale,
            "silence": list(silence) if silence is not None else None,
            "samples": int(len(wav)),
            "gain": gain,
            "mel_frames": int(mel.shape[0]),
            "mel_frame_index": idx,
            "mel": [r(mel[i]) for i in idx],
            "partials": int(partials.shape[0]),
            "first_partial": r(partials[0]),
            "embedding": r(embed),
        }
        if HAVE_VAD:
            pre = audio.preprocess_wav(wav, source_sr=None)
            record["preprocessed_samples"] = int(len(pre))
            record["embedding_preprocessed"] = r(enc.embed_utterance(pre))
        out["files"].append(record)
        print(f"{rel}: {len(wav) / sr:.2f} s, {partials.shape[0]} partials, gain {gain:.3f}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
