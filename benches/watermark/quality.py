#!/usr/bin/env python3
"""Imperceptibility figures for the watermark benchmark: PESQ (ITU-T P.862,
`pesq` PyPI package, wide-band mode at 16 kHz) and SNR / segmental SNR of
marked vs unmarked clips, for avow (WORK/marked) and, when present, Perth
(WORK/perth_marked); plus a spectrogram PNG of one clip.

  python3 benches/watermark/quality.py --work /tmp/avow-wm-bench --png benches/watermark/spectrogram.png
Needs numpy, soundfile, pesq==0.0.4, matplotlib.
"""
import argparse, glob, json, os

import numpy as np
import soundfile as sf
from pesq import pesq


def resample_16k(x, sr):
    # Polyphase 24k -> 16k (2/3) via FFT resampling; PESQ needs 8 or 16 kHz.
    n = int(round(len(x) * 16000 / sr))
    X = np.fft.rfft(x)
    Y = np.zeros(n // 2 + 1, dtype=complex)
    k = min(len(X), len(Y))
    Y[:k] = X[:k]
    return np.fft.irfft(Y, n) * (n / len(x))


def seg_snr(x, y, sr, by_level=None):
    """Mean clamped SNR over 20 ms speech frames (within 40 dB of the
    loudest). With `by_level`, also appends (frame level re loudest, SNR)."""
    f = sr // 50
    vals, peak = [], 0.0
    frames = [(x[i:i + f], y[i:i + f]) for i in range(0, len(x) - f + 1, f)]
    peak = max(np.sum(a ** 2) for a, _ in frames)
    for a, b in frames:
        s, n = np.sum(a ** 2), np.sum((a - b) ** 2)
        if s > peak * 1e-4:
            v = np.clip(10 * np.log10(s / max(n, 1e-30)), -10, 60)
            vals.append(v)
            if by_level is not None:
                by_level.append((10 * np.log10(s / peak), v))
    return float(np.mean(vals))


def snr_by_level(pairs):
    """Mean frame SNR per 5 dB band of frame level (dB under the clip's
    loudest frame), and the share of speech frames in each band."""
    a = np.array(pairs)
    out = {}
    for lo in range(-40, 0, 5):
        m = (a[:, 0] >= lo) & (a[:, 0] < lo + 5)
        if m.any():
            out[f"{lo}..{lo + 5}"] = {"frames_pct": round(100 * float(m.mean()), 1),
                                      "mean_snr_db": round(float(a[m, 1].mean()), 1)}
    return out


def figures(work, sub):
    refs = sorted(glob.glob(os.path.join(work, "ref", "*.wav")))
    p, snr, seg, levels = [], [], [], []
    for r in refs:
        m = os.path.join(work, sub, os.path.basename(r))
        if not os.path.exists(m):
            continue
        x, sr = sf.read(r)
        y, _ = sf.read(m)
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        snr.append(10 * np.log10(np.sum(x ** 2) / max(np.sum((x - y) ** 2), 1e-30)))
        seg.append(seg_snr(x, y, sr, levels))
        p.append(pesq(16000, resample_16k(x, sr), resample_16k(y, sr), "wb"))
    if not p:
        return None
    return {"clips": len(p), "pesq_wb_mean": float(np.mean(p)), "pesq_wb_min": float(np.min(p)),
            "snr_mean_db": float(np.mean(snr)), "segsnr_mean_db": float(np.mean(seg)),
            "frame_snr_by_level": snr_by_level(levels)}


def spectrogram_png(work, png, name=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    refs = sorted(glob.glob(os.path.join(work, "ref", "*.wav")))
    r = refs[0] if name is None else os.path.join(work, "ref", name)
    x, sr = sf.read(r)
    y, _ = sf.read(os.path.join(work, "marked", os.path.basename(r)))
    # Where the mark is exactly zero (digital silence, or the gated variant's
    # unmarked units) the difference plots as blank (log of 0); a dither at
    # -180 dBFS puts those samples at the bottom of the colour scale.
    dither = 1e-9 * np.random.default_rng(0).standard_normal(len(x))
    panels = [("unmarked", x), ("avow marked", y), ("avow mark (difference)", y - x + dither)]
    pm = os.path.join(work, "perth_marked", os.path.basename(r))
    if os.path.exists(pm):
        z, _ = sf.read(pm)
        panels.append(("Perth marked", z[:len(x)]))
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.6 * len(panels)), sharex=True)
    for ax, (title, s) in zip(axes, panels):
        ax.specgram(s, NFFT=512, Fs=sr, noverlap=384, vmin=-140, vmax=-20, cmap="magma")
        ax.set_title(f"{title}: {os.path.basename(r)}")
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel("s")
    fig.tight_layout()
    fig.savefig(png, dpi=80)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--png", default=None)
    ap.add_argument("--clip", default=None)
    a = ap.parse_args()
    res = {"avow": figures(a.work, "marked"), "perth": figures(a.work, "perth_marked")}
    print(json.dumps(res, indent=1))
    with open(os.path.join(a.work, "quality.json"), "w") as f:
        json.dump(res, f, indent=1)
    if a.png:
        spectrogram_png(a.work, a.png, a.clip)


if __name__ == "__main__":
    main()
