//! The PyTorch checkpoint importer against small checkpoints in the release's
//! format (written by `tools/make_pth_fixtures.py` from real canonical
//! tensors): weight-norm folding, `module.` prefixes, nesting, voices, and a
//! clear error for every kind of bad file. The checks against the
//! ONNX-derived weights need the model cache and skip without it, unless
//! `AVOW_REQUIRE_MODELS=1` (CI).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use avow_kokoro::convert_pth::{pth_to_weights_with, read_voice_pt, Layout, PthError, VOICE_SHAPE};
use sha2::{Digest, Sha256};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pth").join(name)
}

/// The canonical tensors the mini checkpoint must reproduce.
fn expected() -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixture("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            (name, (view.shape().to_vec(), values))
        })
        .collect()
}

/// The built-in layout restricted to `names`: what a partial checkpoint must match.
fn layout_of<'a>(names: impl IntoIterator<Item = &'a str>) -> Layout {
    let names: Vec<&str> = names.into_iter().collect();
    Layout::kokoro_v1().filtered(|n| names.contains(&n))
}

fn import(path: &Path, layout: &Layout) -> Result<avow_kokoro::convert::Weights, PthError> {
    pth_to_weights_with(path, layout, &mut |_, _| {}).map(|(w, _)| w)
}

#[test]
fn mini_checkpoint_reproduces_the_canonical_tensors() {
    let expected = expected();
    let layout = layout_of(expected.keys().map(String::as_str));
    assert_eq!(layout.len(), expected.len(), "fixture names must all be canonical");
    let mut calls = 0;
    let (weights, report) = pth_to_weights_with(&fixture("kokoro-mini.pth"), &layout, &mut |done, total| {
        calls += 1;
        assert!(done <= total);
    })
    .unwrap();
    assert_eq!(calls, expected.len());
    assert_eq!(weights.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    let mut worst = 0f32;
    for (name, (shape, values)) in &expected {
        let (got_shape, got) = &weights[name];
        assert_eq!(got_shape, shape, "{name}");
        for (a, b) in got.iter().zip(values) {
            worst = worst.max((a - b).abs());
        }
    }
    assert!(worst <= 2e-6, "largest difference {worst}");
    // Every weight-normed layer was folded; plain tensors were copied bit for bit.
    assert_eq!(
        report.folded,
        vec![
            "decoder.F0_conv.weight",
            "decoder.decode.3.pool.weight",
            "decoder.generator.conv_post.weight",
            "predictor.F0.1.pool.weight"
        ]
    );
    assert_eq!(weights["bert.embeddings.LayerNorm.bias"].1, expected["bert.embeddings.LayerNorm.bias"].1);
    // Entries of the release that the canonical layout leaves out are named.
    assert_eq!(report.extra, vec!["bert.embeddings.position_ids", "bert.pooler.bias"]);
    assert!(report.derived.is_empty());
}

#[test]
fn the_full_layout_lists_every_tensor_a_partial_checkpoint_lacks() {
    let err = import(&fixture("kokoro-mini.pth"), &Layout::kokoro_v1()).unwrap_err();
    let PthError::Missing { missing } = &err else { panic!("expected Missing, got {err}") };
    // 459 canonical tensors, 20 in the fixture, 2 derived (inverse STFT constants).
    assert_eq!(missing.len(), 459 - 20 - 2);
    assert!(missing.contains(&"bert_encoder.weight".to_string()));
    assert!(!missing.iter().any(|m| m.contains("stft")));
    let msg = err.to_string();
    assert!(msg.contains("lacks 437 canonical tensor(s)") && msg.contains("and 425 more"), "{msg}");
}

#[test]
fn a_missing_sub_network_is_named() {
    let err = import(&fixture("missing-decoder.pth"), &layout_of(["bert.embeddings.LayerNorm.bias"])).unwrap_err();
    assert!(matches!(err, PthError::Structure { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("no state dict for decoder"), "{msg}");
    assert!(msg.contains("missing-decoder.pth"), "{msg}");
}

#[test]
fn a_misshapen_tensor_is_refused_with_both_shapes() {
    let err = import(&fixture("bad-shape.pth"), &layout_of(["bert.embeddings.LayerNorm.bias"])).unwrap_err();
    match &err {
        PthError::Shape { name, expected, found } => {
            assert_eq!(name, "bert.embeddings.LayerNorm.bias");
            assert_eq!((expected.as_slice(), found.as_slice()), (&[128][..], &[64][..]));
        }
        other => panic!("expected Shape, got {other}"),
    }
}

#[test]
fn half_a_weight_norm_pair_is_refused() {
    let err = import(&fixture("lone-weight-g.pth"), &layout_of(["decoder.F0_conv.weight"])).unwrap_err();
    assert!(matches!(&err, PthError::WeightNorm { name, .. } if name == "decoder.F0_conv.weight"), "{err}");
    assert!(err.to_string().contains("has weight_g but no weight_v"), "{err}");
}

#[test]
fn legacy_and_non_checkpoint_files_get_their_own_errors() {
    let layout = layout_of(["bert.embeddings.LayerNorm.bias"]);
    let err = import(&fixture("legacy.pth"), &layout).unwrap_err();
    assert!(matches!(err, PthError::Legacy { .. }), "{err}");
    assert!(err.to_string().contains("re-save it"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("empty.pth", &b""[..]), ("text.pth", b"hello, not a checkpoint\n")] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = import(&path, &layout).unwrap_err();
        assert!(matches!(err, PthError::NotCheckpoint { .. }), "{name}: {err}");
    }
    // A safetensors file handed over by mistake.
    let err = import(&fixture("expected.safetensors"), &layout).unwrap_err();
    assert!(matches!(err, PthError::NotCheckpoint { .. }), "{err}");
    let err = import(&dir.path().join("absent.pth"), &layout).unwrap_err();
    assert!(matches!(err, PthError::Io { .. }), "{err}");
}

#[test]
fn truncated_or_damaged_checkpoints_are_refused_without_panicking() {
    let good = std::fs::read(fixture("kokoro-mini.pth")).unwrap();
    let layout = layout_of(expected().keys().map(String::as_str));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pth");
    for keep in [8, good.len() / 10, good.len() / 2, good.len() - 200, good.len() - 1] {
        std::fs::write(&path, &good[..keep]).unwrap();
        let err = import(&path, &layout).unwrap_err();
        assert!(matches!(err, PthError::Corrupt { .. }), "kept {keep} bytes: {err}");
        assert!(err.to_string().contains("truncated or corrupted"), "{err}");
    }
    // Flipped bytes inside a stored tensor: the zip's CRC catches them.
    let mut damaged = good.clone();
    let at = good.len() / 2;
    damaged[at..at + 16].iter_mut().for_each(|b| *b ^= 0x5a);
    std::fs::write(&path, &damaged).unwrap();
    let err = import(&path, &layout).unwrap_err();
    assert!(matches!(err, PthError::Corrupt { .. }), "{err}");
}

#[test]
fn damaged_pickle_bytes_give_errors_not_panics() {
    let good = std::fs::read(fixture("kokoro-mini.pth")).unwrap();
    let layout = layout_of(expected().keys().map(String::as_str));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flipped.pth");
    // data.pkl is the first member: its bytes follow the 30-byte local header and name.
    let start = 30 + "kokoro-mini/data.pkl".len();
    let mut refused = 0;
    for at in (start..start + 2700).step_by(9) {
        let mut bytes = good.clone();
        bytes[at] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        // Any outcome but a panic is acceptable; most must be refusals.
        if pth_to_weights_with(&path, &layout, &mut |_, _| {}).is_err() {
            refused += 1;
        }
    }
    assert!(refused > 250, "only {refused} of 300 damaged files were refused");
}

#[test]
fn a_voice_file_gives_its_style_table() {
    let style = read_voice_pt(&fixture("jf_nezumi.pt")).unwrap();
    assert_eq!(style.len(), VOICE_SHAPE.iter().product::<usize>());
    let bytes: Vec<u8> = style.iter().flat_map(|v| v.to_le_bytes()).collect();
    let digest = format!("{:x}", Sha256::digest(&bytes));
    let want = std::fs::read_to_string(fixture("jf_nezumi.style.sha256")).unwrap();
    assert_eq!(digest, want.trim());

    // A checkpoint is not a voice; a cut voice is reported as such.
    let err = read_voice_pt(&fixture("kokoro-mini.pth")).unwrap_err();
    assert!(matches!(err, PthError::Structure { .. }), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pt");
    let good = std::fs::read(fixture("jf_nezumi.pt")).unwrap();
    std::fs::write(&cut, &good[..good.len() - 300]).unwrap();
    assert!(matches!(read_voice_pt(&cut).unwrap_err(), PthError::Corrupt { .. }));
}

/// The ONNX-derived weights from the model cache, or `None` (skip) without them.
fn onnx_weights() -> Option<Vec<u8>> {
    match common::weights_path() {
        Some(p) => Some(std::fs::read(p).unwrap()),
        None => {
            assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but no weights were found");
            eprintln!("skipping: no ONNX-derived Kokoro weights (run `avow models fetch`)");
            None
        }
    }
}

#[test]
fn built_in_layout_equals_the_onnx_importers_output_and_derived_constants_match() {
    let Some(bytes) = onnx_weights() else { return };
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let onnx = st.tensors();
    let shapes: Vec<(&str, &[usize])> = onnx.iter().map(|(n, v)| (n.as_str(), v.shape())).collect();
    let diff = Layout::kokoro_v1().diff(shapes);
    assert!(diff.is_exact(), "layout differs from the ONNX import: {diff:?}");
    assert!(onnx.iter().all(|(_, v)| v.dtype() == safetensors::Dtype::F32));

    // The two inverse-STFT constants the importer computes equal the ONNX graph's.
    let names = expected();
    let stft = ["decoder.generator.stft.istft.stft.inverse_basis", "decoder.generator.stft.istft.stft.window_sum"];
    let layout = layout_of(names.keys().map(String::as_str).chain(stft));
    let (weights, report) = pth_to_weights_with(&fixture("kokoro-mini.pth"), &layout, &mut |_, _| {}).unwrap();
    assert_eq!(report.derived, stft);
    for name in stft {
        let view = st.tensor(name).unwrap();
        let reference: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let (shape, got) = &weights[name];
        assert_eq!(shape.as_slice(), view.shape());
        let worst = got.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-6, "{name}: {worst}");
    }
}
