//! Shared by the parity tests: fixtures, the model, a log-mel distance.
#![allow(dead_code)]

use std::path::PathBuf;

use avow_kokoro::KModel;
use candle_core::{Device, Tensor};

pub struct Case {
    pub name: String,
    pub tokens: Vec<u32>,
    pub style: Vec<f32>,
    pub speed: f32,
    pub raw_durations: Vec<f32>,
    pub durations: Vec<u32>,
    pub f0: Vec<f32>,
    pub audio: Vec<f32>,
}

pub fn fixtures() -> Vec<Case> {
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

pub fn model() -> Option<KModel> {
    match weights_path().filter(|p| p.exists()) {
        Some(p) => Some(KModel::from_file(&p).expect("weights load")),
        None => {
            assert!(std::env::var("AVOW_REQUIRE_MODELS").is_err(), "AVOW_REQUIRE_MODELS is set but no weights were found");
            eprintln!("skipping: no converted Kokoro weights (run `avow models fetch`)");
            None
        }
    }
}

pub fn ids(case: &Case) -> Tensor {
    let mut ids = vec![0u32];
    ids.extend(&case.tokens);
    ids.push(0);
    Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap()
}

/// Log-mel spectrogram (n_fft 1024, hop 256, 80 bands up to 12 kHz), natural log, floor 1e-5.
pub fn log_mel(x: &[f32]) -> Vec<Vec<f32>> {
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
pub fn log_mel_distance(a: &[f32], b: &[f32]) -> f32 {
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

