//! Numerical parity of the Candle port with onnxruntime running the same int8
//! ONNX file (fixtures made once by `tools/make_fixtures.py`).
//!
//! Needs the converted weights: `AVOW_KOKORO_WEIGHTS`, else the default model
//! cache. Skips with a message when they are absent, unless
//! `AVOW_REQUIRE_MODELS=1` (set by CI), where absence is a failure.

use std::path::PathBuf;

use avow_kokoro::KModel;
use candle_core::{Device, Tensor};

struct Case {
    name: String,
    tokens: Vec<u32>,
    style: Vec<f32>,
    speed: f32,
    raw_durations: Vec<f32>,
    durations: Vec<u32>,
    f0: Vec<f32>,
    audio: Vec<f32>,
}

fn fixtures() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let index: Vec<String> = serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    index
        .into_iter()
        .map(|name| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
            let f32s = |k: &str| v[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<_>>();
            let u32s = |k: &str| v[k].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect::<Vec<_>>();
            let audio = hound::WavReader::open(dir.join(format!("{name}.wav")))
                .unwrap()
                .samples::<i16>()
                .map(|s| s.unwrap() as f32 / 32767.0)
                .collect();
            Case {
                name,
                tokens: u32s("tokens"),
                style: f32s("style"),
                speed: v["speed"].as_f64().unwrap() as f32,
                raw_durations: f32s("raw_durations"),
                durations: u32s("durations"),
                f0: f32s("f0"),
                audio,
            }
        })
        .collect()
}

pub fn weights_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("AVOW_KOKORO_WEIGHTS") {
        return Some(PathBuf::from(p));
    }
    let cache = std::env::var("AVOW_CACHE_DIR").map(PathBuf::from).ok().or_else(|| {
        std::env::var("XDG_CACHE_HOME")
            .map(|x| PathBuf::from(x).join("avow"))
            .ok()
            .or_else(|| std::env::var("HOME").ok().map(|h| PathBuf::from(h).join(".cache/avow")))
    })?;
    let p = cache.join("kokoro-82m-v1.0.safetensors");
    p.exists().then_some(p)
}

fn model() -> Option<KModel> {
    match weights_path().filter(|p| p.exists()) {
        Some(p) => Some(KModel::from_file(&p).expect("weights load")),
        None => {
            assert!(std::env::var("AVOW_REQUIRE_MODELS").is_err(), "AVOW_REQUIRE_MODELS is set but no weights were found");
            eprintln!("skipping: no converted Kokoro weights (run `avow models fetch`)");
            None
        }
    }
}

fn ids(case: &Case) -> Tensor {
    let mut ids = vec![0u32];
    ids.extend(&case.tokens);
    ids.push(0);
    Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap()
}

/// Log-mel spectrogram (n_fft 1024, hop 256, 80 bands up to 12 kHz), natural log, floor 1e-5.
fn log_mel(x: &[f32]) -> Vec<Vec<f32>> {
    let (n_fft, hop, bands, sr) = (1024usize, 256usize, 80usize, 24_000f32);
    let window: Vec<f32> = (0..n_fft).map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n_fft as f32).cos()).collect();
    let mel = |f: f32| 2595.0 * (1.0 + f / 700.0).log10();
    let hz = |m: f32| 700.0 * (10f32.powf(m / 2595.0) - 1.0);
    let edges: Vec<f32> = (0..bands + 2).map(|i| hz(mel(sr / 2.0) * i as f32 / (bands + 1) as f32)).collect();
    let mut planner = realfft::RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n_fft);
    let mut out = Vec::new();
    let mut start = 0;
    while start + n_fft <= x.len() {
        let mut frame: Vec<f32> = x[start..start + n_fft].iter().zip(&window).map(|(a, w)| a * w).collect();
        let mut spec = fft.make_output_vec();
        fft.process(&mut frame, &mut spec).unwrap();
        let power: Vec<f32> = spec.iter().map(|c| c.norm_sqr()).collect();
        let row = (0..bands)
            .map(|b| {
                let (lo, mid, hi) = (edges[b], edges[b + 1], edges[b + 2]);
                let mut acc = 0f32;
                for (k, p) in power.iter().enumerate() {
                    let f = k as f32 * sr / n_fft as f32;
                    let w = if f > lo && f <= mid { (f - lo) / (mid - lo) } else if f > mid && f < hi { (hi - f) / (hi - mid) } else { 0.0 };
                    acc += w * p;
                }
                acc.max(1e-5).ln()
            })
            .collect();
        out.push(row);
        start += hop;
    }
    out
}

/// Mean absolute difference of two log-mel spectrograms, over frames where
/// the reference is not silent (natural-log units).
fn log_mel_distance(a: &[f32], b: &[f32]) -> f32 {
    let (ma, mb) = (log_mel(a), log_mel(b));
    let frames = ma.len().min(mb.len());
    let (mut sum, mut n) = (0f32, 0usize);
    for f in 0..frames {
        for (x, y) in ma[f].iter().zip(&mb[f]) {
            if *y > -9.0 {
                sum += (x - y).abs();
                n += 1;
            }
        }
    }
    sum / n.max(1) as f32
}

#[test]
fn durations_match_onnxruntime() {
    let Some(model) = model() else { return };
    for case in fixtures() {
        let style = Tensor::new(case.style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let raw = model.raw_durations(&ids(&case), &style).unwrap();
        let ours: Vec<f32> = raw.iter().map(|d| d / case.speed).collect();
        let max_raw = ours.iter().zip(&case.raw_durations).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let rounded = model.predict_durations(&ids(&case), &style, case.speed).unwrap();
        let differing = rounded.iter().zip(&case.durations).filter(|(a, b)| a != b).count();
        let max_step = rounded.iter().zip(&case.durations).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        eprintln!("{}: max |raw duration diff| {max_raw:.3} frames, {differing}/{} rounded differ, max step {max_step}", case.name, rounded.len());
        // int8 activation quantization in the reference moves raw durations
        // by a few hundredths of a frame; rounding can then flip by one.
        assert!(max_raw < 0.5, "{}: raw durations differ by {max_raw}", case.name);
        assert!(max_step <= 1 && differing * 10 <= rounded.len(), "{}: {differing} durations differ", case.name);
    }
}

#[test]
fn f0_and_audio_match_onnxruntime() {
    let Some(model) = model() else { return };
    for case in fixtures() {
        let style = Tensor::new(case.style.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
        let (f0, _) = model.f0_energy(&ids(&case), &style, &case.durations).unwrap();
        assert_eq!(f0.len(), case.f0.len());
        let voiced: Vec<(f32, f32)> = f0.iter().zip(&case.f0).filter(|(_, r)| **r > 50.0).map(|(a, b)| (*a, *b)).collect();
        let f0_err = voiced.iter().map(|(a, b)| (a - b).abs() / b).sum::<f32>() / voiced.len().max(1) as f32;
        let audio: Vec<f32> = model.render(&ids(&case), &style, &case.durations).unwrap().squeeze(0).unwrap().to_vec1().unwrap();
        assert_eq!(audio.len(), case.audio.len());
        let dist = log_mel_distance(&audio, &case.audio);
        let noise: Vec<f32> = case.audio.iter().enumerate().map(|(i, _)| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.02).collect();
        let unrelated = log_mel_distance(&noise, &case.audio);
        eprintln!("{}: F0 mean relative error {f0_err:.4}, log-mel L1 {dist:.3} (noise: {unrelated:.3})", case.name);
        assert!(f0_err < 0.03, "{}: F0 differs by {f0_err}", case.name);
        assert!(dist < 0.5, "{}: log-mel distance {dist}", case.name);
    }
}
