#!/usr/bin/env python3
"""Writes small PyTorch checkpoints in the format of the original Kokoro
release (`kokoro-v1_0.pth`, `voices/*.pt`) for the Rust `.pth` importer's tests.

The real checkpoint cannot be downloaded here, so these fixtures are built
from a handful of real tensors of the canonical safetensors that
`avow models fetch` produced (~/.cache/avow, or $AVOW_CACHE_DIR):

* the checkpoint is a dict with the five top-level keys of the release
  (`bert`, `bert_encoder`, `predictor`, `text_encoder`, `decoder`), each an
  `OrderedDict` state dict (with its `_metadata`, as `state_dict()` gives) whose
  keys carry the `module.` prefix of a DataParallel-saved model;
* weight-normed convolutions are stored un-folded as `weight_g`/`weight_v`
  pairs exactly as `torch.nn.utils.weight_norm` lays them out (Conv1d and
  ConvTranspose1d, dim=0): `v` is the canonical weight scaled by a random
  positive factor per output channel, `g` is ||weight|| per channel, so the
  importer only reproduces the canonical weight if it folds over the right axis;
* an unused buffer and an unused layer (`position_ids`, the ALBERT pooler) that
  the canonical layout leaves out, so the importer must report them as extra;
* `torch.save` in the default zip format.

Also written: `expected.safetensors` (the canonical tensors the importer must
reproduce), a voice `jf_nezumi.pt` (one tensor [510, 1, 256] from the cached
voice pack) with the sha256 of its little-endian f32 values and small broken checkpoints: a missing top-level key, a
misshapen tensor, a lone `weight_g`, and a legacy (non-zip) save.

It also rewrites crates/avow-kokoro/src/canonical_layout.txt (name and shape
of every canonical tensor), the layout the importer checks a full checkpoint
against; regenerate it whenever the ONNX importer's output changes
(tests/pth_import.rs fails when the two disagree).

Run once: python3 tools/make_pth_fixtures.py  (writes crates/avow-kokoro/tests/fixtures/pth/)
"""

import collections
import hashlib
import os
import pathlib

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

CACHE = pathlib.Path(os.environ.get("AVOW_CACHE_DIR", pathlib.Path.home() / ".cache" / "avow"))
ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/avow-kokoro/tests/fixtures/pth"
LAYOUT = ROOT / "crates/avow-kokoro/src/canonical_layout.txt"

# Canonical tensors copied as they are (top-level key, name inside it).
PLAIN = [
    ("bert", "embeddings.LayerNorm.weight"),
    ("bert", "embeddings.LayerNorm.bias"),
    ("bert_encoder", "bias"),
    ("text_encoder", "cnn.0.1.gamma"),
    ("text_encoder", "cnn.0.1.beta"),
    ("text_encoder", "lstm.bias_ih_l0"),
    ("text_encoder", "lstm.bias_hh_l0_reverse"),
    ("predictor", "F0_proj.weight"),
    ("predictor", "F0_proj.bias"),
    ("predictor", "F0.1.pool.bias"),
    ("decoder", "F0_conv.bias"),
    ("decoder", "generator.m_source.l_linear.weight"),
    ("decoder", "generator.m_source.l_linear.bias"),
    ("decoder", "generator.noise_convs.1.weight"),
    ("decoder", "generator.noise_res.1.alpha1.0"),
    ("decoder", "generator.conv_post.bias"),
]
# Canonical weights stored under weight norm: (key, module path, layer type).
NORMED = [
    ("decoder", "generator.conv_post", torch.nn.Conv1d),  # [22, 128, 7]
    ("decoder", "F0_conv", torch.nn.Conv1d),  # [1, 1, 3]
    ("predictor", "F0.1.pool", torch.nn.ConvTranspose1d),  # [512, 1, 3], groups=512
    ("decoder", "decode.3.pool", torch.nn.ConvTranspose1d),  # [1090, 1, 3], groups=1090
]
KEYS = ["bert", "bert_encoder", "predictor", "text_encoder", "decoder"]


def unfold(weight: torch.Tensor, layer_type, rng: np.random.Generator):
    """weight_g / weight_v as torch's weight_norm(dim=0) stores them for `weight`."""
    if layer_type is torch.nn.Conv1d:
        out_ch, in_ch, k = weight.shape
        layer = torch.nn.Conv1d(in_ch, out_ch, k)
    else:
        in_ch, out_per_group, k = weight.shape
        groups = in_ch if out_per_group == 1 else 1
        layer = torch.nn.ConvTranspose1d(in_ch, out_per_group * groups, k, groups=groups)
    with torch.no_grad():
        layer.weight.copy_(weight)
    layer = torch.nn.utils.weight_norm(layer)  # g = ||w|| over all dims but 0
    with torch.no_grad():
        scale = torch.from_numpy(rng.uniform(0.5, 3.0, size=(weight.shape[0],) + (1,) * (weight.dim() - 1))).float()
        layer.weight_v.mul_(scale)  # direction unchanged, so g·v/||v|| is still `weight`
        refolded = torch._weight_norm(layer.weight_v, layer.weight_g, 0)
    assert torch.allclose(refolded, weight, atol=1e-6), "un-folding does not round-trip"
    return layer.weight_g.detach().clone(), layer.weight_v.detach().clone()


def state_dict(items):
    sd = collections.OrderedDict((f"module.{k}", v) for k, v in items)
    sd._metadata = collections.OrderedDict({"module": {"version": 1}})
    return sd


def write_layout(canon):
    lines = [
        "# Canonical Kokoro-82M v1.0 layout: every tensor the ONNX importer (convert.rs) writes,",
        "# as `name dim,dim,...` (all f32). The .pth importer must produce exactly these.",
        "# Regenerate with tools/make_pth_fixtures.py; tests/pth_import.rs checks it against the cache.",
    ]
    lines += [f"{name} {','.join(str(d) for d in canon[name].shape)}" for name in sorted(canon)]
    LAYOUT.write_text("\n".join(lines) + "\n")


def main():
    canon = load_file(str(CACHE / "kokoro-82m-v1.0.safetensors"))
    write_layout(canon)
    rng = np.random.default_rng(7)
    OUT.mkdir(parents=True, exist_ok=True)
    per_key = {k: [] for k in KEYS}
    expected = {}
    for key, name in PLAIN:
        t = torch.from_numpy(canon[f"{key}.{name}"].copy())
        per_key[key].append((name, t))
        expected[f"{key}.{name}"] = canon[f"{key}.{name}"]
    for key, path, layer_type in NORMED:
        w = torch.from_numpy(canon[f"{key}.{path}.weight"].copy())
        g, v = unfold(w, layer_type, rng)
        per_key[key] += [(f"{path}.weight_g", g), (f"{path}.weight_v", v)]
        expected[f"{key}.{path}.weight"] = canon[f"{key}.{path}.weight"]
    # In the release but not in the canonical layout: must be reported, not kept.
    per_key["bert"].append(("embeddings.position_ids", torch.arange(512).unsqueeze(0)))
    per_key["bert"].append(("pooler.bias", torch.zeros(768)))
    checkpoint = {k: state_dict(per_key[k]) for k in KEYS}
    torch.save(checkpoint, OUT / "kokoro-mini.pth")
    save_file(expected, str(OUT / "expected.safetensors"))

    # Broken variants, all tiny.
    tiny = {k: state_dict([]) for k in KEYS}
    tiny["bert"] = state_dict([("embeddings.LayerNorm.bias", torch.from_numpy(canon["bert.embeddings.LayerNorm.bias"].copy()))])
    no_decoder = {k: v for k, v in tiny.items() if k != "decoder"}
    torch.save(no_decoder, OUT / "missing-decoder.pth")
    bad_shape = dict(tiny)
    bad_shape["bert"] = state_dict([("embeddings.LayerNorm.bias", torch.zeros(64))])
    torch.save(bad_shape, OUT / "bad-shape.pth")
    lone_g = dict(tiny)
    lone_g["decoder"] = state_dict([("F0_conv.weight_g", torch.ones(1, 1, 1))])
    torch.save(lone_g, OUT / "lone-weight-g.pth")
    torch.save(tiny, OUT / "legacy.pth", _use_new_zipfile_serialization=False)

    # A voice as the release ships it: one bare tensor [510, 1, 256].
    voice = load_file(str(CACHE / "voices" / "jf_nezumi.voicepack"))["style"]
    assert voice.shape == (510, 1, 256)
    torch.save(torch.from_numpy(voice.copy()), OUT / "jf_nezumi.pt")
    # The style table is too big to commit twice: its digest stands in for it.
    digest = hashlib.sha256(np.ascontiguousarray(voice, dtype="<f4").tobytes()).hexdigest()
    (OUT / "jf_nezumi.style.sha256").write_text(digest + "\n")

    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
