#!/usr/bin/env bash
# Installs what tools/perth_baseline.py needs for the Perth column of the
# watermark benchmark (BENCHMARKS.md, "watermark"). Heavy (PyTorch CPU, about
# 1 GB), so it is NOT part of .ci/run or benches/watermark/run.sh: run it by
# hand before the Perth baseline.
#   benches/watermark/setup_perth.sh            # into the current python3
#   PYTHON=/path/to/venv/bin/python3 benches/watermark/setup_perth.sh
# resemble-perth 1.0.1 (MIT) ships the Perth weights in its wheel. Its
# metadata declares no dependencies, so the ones its implicit watermarker
# imports are installed explicitly (pydub and pyrubberband, used only by its
# own CLI helpers, are not needed). setuptools < 81 keeps pkg_resources,
# which perth imports to locate its weights.
set -euo pipefail
py=${PYTHON:-python3}
"$py" -m pip install --quiet \
  --extra-index-url https://download.pytorch.org/whl/cpu \
  torch torchaudio
"$py" -m pip install --quiet librosa soundfile numpy scipy pyyaml "setuptools<81" pesq matplotlib
"$py" -m pip install --quiet --no-deps resemble-perth==1.0.1
"$py" - <<'PY'
from perth.perth_net.perth_net_implicit.perth_watermarker import PerthImplicitWatermarker
PerthImplicitWatermarker()
print("Perth baseline ready")
PY
