//! Parity with the Python reference (resemblyzer 0.1.4 on PyTorch/librosa,
//! fixtures from tools/make_ge2e_fixtures.py) and agreement of the
//! differentiable path with the plain one.

mod common;

use avow_speaker::frontend::{mel_frames, normalize_volume, partial_starts, preprocess, N_MELS};
use avow_speaker::Embedding;
use candle_core::{Tensor, Var};
use serde_json::Value;

fn fixtures() -> Value {
    let text = include_str!("fixtures/ge2e_reference.json");
    serde_json::from_str(text).expect("fixture JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

struct Case {
    name: String,
    wav: Vec<f32>,
    entry: Value,
}

fn cases() -> Option<Vec<Case>> {
    let data = common::librispeech()?;
    let fx = fixtures();
    let files = fx["files"].as_array().expect("files").clone();
    Some(
        files
            .into_iter()
            .map(|entry| {
                let rel = entry["path"].as_str().expect("path").to_string();
                let scale = entry["scale"].as_f64().unwrap_or(1.0) as f32;
                let mut raw = common::read_16k(&data.join(&rel));
                // Silence added at both ends and in the middle, as the
                // fixture script does.
                if let Some(secs) = entry["silence"].as_array() {
                    let z = |v: &Value| vec![0.0f32; (v.as_f64().unwrap() * 16_000.0) as usize];
                    let half = raw.len() / 2;
                    let mut with = z(&secs[0]);
                    with.extend_from_slice(&raw[..half]);
                    with.extend(z(&secs[1]));
                    with.extend_from_slice(&raw[half..]);
                    with.extend(z(&secs[2]));
                    raw = with;
                }
                assert_eq!(
                    raw.len() as u64,
                    entry["samples"].as_u64().unwrap(),
                    "{rel}"
                );
                let wav: Vec<f32> = raw.iter().map(|x| x * scale).collect();
                Case {
                    name: format!("{rel} ×{scale}"),
                    wav,
                    entry,
                }
            })
            .collect(),
    )
}

#[test]
fn mel_frames_and_partials_match_librosa_and_resemblyzer() {
    let Some(cases) = cases() else { return };
    let mut worst = 0f32;
    for c in &cases {
        let norm = normalize_volume(&c.wav);
        let (starts, padded_len) = partial_starts(norm.len());
        assert_eq!(
            starts.len() as u64,
            c.entry["partials"].as_u64().unwrap(),
            "{}",
            c.name
        );
        let mut padded = norm.clone();
        padded.resize(padded_len, 0.0);
        let mel = mel_frames(&padded);
        let n_frames = mel.len() / N_MELS;
        assert_eq!(
            n_frames as u64,
            c.entry["mel_frames"].as_u64().unwrap(),
            "{}",
            c.name
        );
        let idx = c.entry["mel_frame_index"].as_array().unwrap();
        for (i, want) in idx.iter().zip(c.entry["mel"].as_array().unwrap()) {
            let i = i.as_u64().unwrap() as usize;
            let want = floats(want);
            let got = &mel[i * N_MELS..(i + 1) * N_MELS];
            // Relative to the frame's largest band: float32 FFTs differ in
            // the last digits, and near-silent frames are tiny.
            let scale = want.iter().cloned().fold(1e-6f32, f32::max);
            for (m, (g, w)) in got.iter().zip(&want).enumerate() {
                worst = worst.max((g - w).abs() / scale);
                assert!(
                    (g - w).abs() <= 1e-3 * scale,
                    "{} frame {i} band {m}: {g} vs {w}",
                    c.name
                );
            }
        }
    }
    eprintln!("largest mel difference relative to the frame maximum: {worst:.1e}");
}

#[test]
fn embeddings_match_resemblyzer_with_cosine_at_least_0_999() {
    let Some(cases) = cases() else { return };
    let Some(enc) = common::encoder() else { return };
    let mut worst = 1.0f32;
    for c in &cases {
        let norm = normalize_volume(&c.wav);
        let got = enc.embed(&norm).unwrap();
        let want = Embedding::from_values(floats(&c.entry["embedding"])).unwrap();
        let cos = got.cosine(&want);
        let cos64: f64 = got
            .as_slice()
            .iter()
            .zip(want.as_slice())
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        eprintln!(
            "{}: cosine {cos:.7} (1 - cos = {:.1e})",
            c.name,
            1.0 - cos64
        );
        assert!(cos >= 0.999, "{}: cosine {cos}", c.name);
        worst = worst.min(cos);
    }
    eprintln!("worst cosine {worst:.6}");
}

#[test]
fn energy_trimmed_preprocessing_stays_close_to_resemblyzers_webrtcvad() {
    let Some(cases) = cases() else { return };
    let Some(enc) = common::encoder() else { return };
    let mut worst = 1.0f32;
    for c in &cases {
        let Some(want) = c.entry.get("embedding_preprocessed") else {
            continue;
        };
        let pre = preprocess(&c.wav);
        let want = Embedding::from_values(floats(want)).unwrap();
        let cos = enc.embed(&pre).unwrap().cosine(&want);
        // How far the untrimmed embedding is, for comparison.
        let untrimmed = enc.embed(&normalize_volume(&c.wav)).unwrap().cosine(&want);
        eprintln!(
            "{}: {} → {} samples (webrtcvad: {}); cosine {cos:.4} (untrimmed {untrimmed:.4})",
            c.name,
            c.wav.len(),
            pre.len(),
            c.entry["preprocessed_samples"]
        );
        worst = worst.min(cos);
    }
    eprintln!("worst cosine with resemblyzer's preprocess_wav: {worst:.4}");
    assert!(worst >= 0.98, "worst cosine {worst}");
}

#[test]
fn different_speakers_are_further_apart_than_the_same_speaker() {
    let Some(cases) = cases() else { return };
    let Some(enc) = common::encoder() else { return };
    // Two utterances of 1688 versus one each of the other speakers.
    let e: Vec<_> = cases
        .iter()
        .take(6)
        .map(|c| enc.embed(&normalize_volume(&c.wav)).unwrap())
        .collect();
    let same = e[0].cosine(&e[1]);
    for other in &e[2..] {
        assert!(
            same > e[0].cosine(other),
            "same {same} vs other {}",
            e[0].cosine(other)
        );
    }
}

#[test]
fn differentiable_path_equals_embed_and_has_finite_gradients() {
    let Some(cases) = cases() else { return };
    let Some(enc) = common::encoder() else { return };
    // The shortest file (3 partials), to keep backward through the LSTM quick.
    let c = &cases[0];
    let norm = normalize_volume(&c.wav);
    let plain = enc.embed(&norm).unwrap();
    let var = Var::from_tensor(&Tensor::new(norm.as_slice(), enc.device()).unwrap()).unwrap();
    let emb = enc.embed_tensor(var.as_tensor()).unwrap();
    let values = emb.to_vec1::<f32>().unwrap();
    let diff = Embedding::from_values(values).unwrap();
    let cos = plain.cosine(&diff);
    assert!(cos >= 0.9999, "embed_tensor vs embed: cosine {cos}");
    // Gradient of the cosine with the plain embedding w.r.t. the samples.
    let target = Tensor::new(plain.as_slice(), enc.device()).unwrap();
    let loss = (emb * target).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let g = grads
        .get(var.as_tensor())
        .expect("gradient reaches the samples");
    let g = g.to_vec1::<f32>().unwrap();
    assert_eq!(g.len(), norm.len());
    assert!(g.iter().all(|x| x.is_finite()), "non-finite gradient");
    let norm_g: f32 = g.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(norm_g > 0.0, "gradient is zero");
}

#[test]
fn bad_input_is_an_error_and_tiny_input_still_embeds() {
    let Some(enc) = common::encoder() else { return };
    assert!(enc.embed(&[0.1, f32::NAN, 0.2]).is_err());
    // Silence never yields NaNs: either a finite embedding or an error.
    match enc.embed(&[0.0; 8000]) {
        Ok(e) => assert!(e.as_slice().iter().all(|v| v.is_finite())),
        Err(e) => assert!(e.to_string().contains("zero"), "{e}"),
    }
    // resemblyzer pads anything shorter than one partial.
    let tone: Vec<f32> = (0..4000).map(|i| 0.1 * (i as f32 * 0.05).sin()).collect();
    let e = enc.embed(&tone).unwrap();
    assert!(e.as_slice().iter().all(|v| v.is_finite()));
}
