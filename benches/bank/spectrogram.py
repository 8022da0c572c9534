#!/usr/bin/env python3
"""Spectrograms for the voice-banking report: the real speaker, the start
voice and the adapted voice, for the bank benchmark's output directory.

    python3 benches/bank/spectrogram.py --out-dir /tmp/bank-1998 --speaker 1998 \
        --real ../shared/data/librispeech/test-other/1998/<file>.flac --png benches/bank/spectrogram-1998.png

The bank benchmark (`bank_bench --out DIR`) writes DIR/SPK-STAGE-NN.wav
(16 kHz) for its 10 new sentences, STAGE being stock, clone (with
--clone-steps) and adapted; every stage present is drawn. The real clip is
any held-out recording of the speaker. Same STFT (512 points, hop 128 at
16 kHz) and colour scale for all three panels.
"""
import argparse
import os

import librosa
import librosa.display
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def db(path):
    y, _ = librosa.load(path, sr=16000)
    y = y / (np.max(np.abs(y)) + 1e-9)
    return librosa.amplitude_to_db(np.abs(librosa.stft(y, n_fft=512, hop_length=128)), ref=1.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--speaker", required=True)
    ap.add_argument("--real", required=True)
    ap.add_argument("--sentence", type=int, default=0)
    ap.add_argument("--png", required=True)
    a = ap.parse_args()
    panels = [("real speaker (held-out recording)", a.real)]
    for stage, title in [("stock", "closest stock voice"), ("clone", "searched style"), ("adapted", "adapted voice")]:
        path = f"{a.out_dir}/{a.speaker}-{stage}-{a.sentence:02d}.wav"
        if os.path.exists(path):
            panels.append((title, path))
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.7 * len(panels)), sharex=False)
    for ax, (title, path) in zip(axes, panels):
        img = librosa.display.specshow(db(path), sr=16000, hop_length=128, x_axis="time", y_axis="hz", ax=ax, vmin=-80, vmax=0)
        ax.set_title(title)
    fig.colorbar(img, ax=axes, format="%+2.0f dB")
    fig.savefig(a.png, dpi=80)


if __name__ == "__main__":
    main()
