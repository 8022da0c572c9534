#!/usr/bin/env python3
"""Perth baseline for the avow watermark benchmark (BENCHMARKS.md, "watermark").

Marks the same unmarked 24 kHz clips that the avow harness used
(WORK/ref/*.wav) with the Perth implicit neural watermarker (weights from the
resemble-perth 1.0.1 wheel, MIT), lets the avow harness apply exactly the same
attacks (`robustness --apply-attacks`), and detects with Perth. Perth marks
presence only (no payload), so there is no bit accuracy. A clip counts as
detected when the mean of Perth's rounded per-frame predictions exceeds 0.5
(the convention of Perth's own CLI).

Needs: torch, torchaudio, librosa, soundfile, setuptools<81, and
`pip install --no-deps resemble-perth==1.0.1`.

  python3 tools/perth_baseline.py --work /tmp/avow-wm-bench \
      --harness target/release/examples/robustness --data ../shared/data/librispeech
"""
import argparse, glob, json, os, subprocess, sys, time

import numpy as np
import soundfile as sf


def snr_db(x, y):
    n = min(len(x), len(y))
    return 10 * np.log10(np.sum(x[:n] ** 2) / max(np.sum((x[:n] - y[:n]) ** 2), 1e-30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--harness", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--extra", action="append", default=[], help="more unmarked clips for the false-positive count")
    ap.add_argument("--skip-attacks", action="store_true", help="reuse WORK/perth_marked and WORK/perth_attacked")
    a = ap.parse_args()
    from perth.perth_net.perth_net_implicit.perth_watermarker import PerthImplicitWatermarker
    wm = PerthImplicitWatermarker()
    refs = sorted(glob.glob(os.path.join(a.work, "ref", "*.wav")))
    if not refs:
        sys.exit("no reference clips in WORK/ref: run the avow harness first")
    marked_dir = os.path.join(a.work, "perth_marked")
    os.makedirs(marked_dir, exist_ok=True)
    snrs, t_embed = [], 0.0
    for r in ([] if a.skip_attacks else refs):
        x, sr = sf.read(r, dtype="float32")
        t = time.time()
        y = wm.apply_watermark(x, sample_rate=sr).astype(np.float32)
        t_embed += time.time() - t
        snrs.append(snr_db(x, y))
        sf.write(os.path.join(marked_dir, os.path.basename(r)), y, sr, subtype="FLOAT")
    att_dir = os.path.join(a.work, "perth_attacked")
    if not a.skip_attacks:
        subprocess.run([a.harness, "--data", a.data, "--apply-attacks", marked_dir, att_dir], check=True)
    else:
        for r in refs:
            x, _ = sf.read(r, dtype="float32")
            y, _ = sf.read(os.path.join(marked_dir, os.path.basename(r)), dtype="float32")
            snrs.append(snr_db(x, y))
        t_embed = float("nan")

    def detect(path):
        y, sr = sf.read(path, dtype="float32")
        if y.ndim > 1:
            y = y.mean(axis=1)
        return float(np.mean(wm.get_watermark(y, sample_rate=sr)))

    rows = []
    for d in sorted(os.listdir(att_dir)):
        files = sorted(glob.glob(os.path.join(att_dir, d, "*.wav")))
        if not files:
            continue
        conf = [detect(f) for f in files]
        rows.append({"attack": d, "clips": len(files), "detected": int(sum(c > 0.5 for c in conf)),
                     "mean_confidence": float(np.mean(conf))})
        print(f"{d:>16}: detected {rows[-1]['detected']}/{len(files)}  mean confidence {rows[-1]['mean_confidence']:.3f}")
    unmarked = list(refs)
    for d in [os.path.join(a.data, "test-other"), os.path.join(a.data, "train-clean-100")] + a.extra:
        for root, _dirs, files in os.walk(d):
            unmarked += [os.path.join(root, f) for f in sorted(files) if f.endswith((".flac", ".wav"))]
    t = time.time()
    fp_conf = [detect(r) for r in unmarked]
    t_detect = time.time() - t
    secs = sum(sf.info(r).duration for r in refs)
    fp_secs = sum(sf.info(r).duration for r in unmarked)
    res = {"clips": len(refs), "snr_mean_db": float(np.mean(snrs)), "snr_min_db": float(np.min(snrs)),
           "fp": int(sum(c > 0.5 for c in fp_conf)), "fp_files": len(unmarked),
           "embed_x_realtime": secs / t_embed, "detect_x_realtime": fp_secs / t_detect, "rows": rows}
    print(f"Perth: SNR mean {res['snr_mean_db']:.1f} dB (min {res['snr_min_db']:.1f}); "
           f"false positives {res['fp']}/{len(unmarked)}; embed {res['embed_x_realtime']:.0f}x, detect {res['detect_x_realtime']:.0f}x real time")
    out = a.out or os.path.join(a.work, "perth.json")
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
