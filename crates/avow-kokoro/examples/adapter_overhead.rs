//! Inference cost of a speaker adapter (issue #7 asks for ≤ 10 % over the
//! base model): synthesizes the same sentence with the base model and with
//! an adapter on all 73 style affine layers (folding it in per call, as the
//! engine does), alternating, and reports the ratio of the medians.
//!
//! cargo run --release -p avow-kokoro --example adapter_overhead -- [ROUNDS]

use std::path::PathBuf;
use std::time::Instant;

use avow_kokoro::{KModel, StyleAdapter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let weights = std::env::var("AVOW_KOKORO_WEIGHTS").map(PathBuf::from).or_else(|_| -> Result<PathBuf, std::env::VarError> {
        Ok(PathBuf::from(std::env::var("HOME")?).join(".cache/avow/kokoro-82m-v1.0.safetensors"))
    })?;
    let model = KModel::from_file(&weights)?;
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sentence.json"))?)?;
    let numbers = |k: &str| -> Vec<f64> { fixture[k].as_array().into_iter().flatten().filter_map(|x| x.as_f64()).collect() };
    let tokens: Vec<u32> = numbers("tokens").into_iter().map(|x| x as u32).collect();
    let style: Vec<f32> = numbers("style").into_iter().map(|x| x as f32).collect();
    let mut offsets = Vec::new();
    model.clone().visit_style_affines(&mut |name, layer| {
        if let Some(b) = layer.bias() {
            let n = b.dim(0)?;
            offsets.push((name.to_string(), (0..n).map(|i| 0.01 * ((i % 7) as f32 - 3.0)).collect()));
        }
        Ok(())
    })?;
    let adapter = StyleAdapter::from_offsets(offsets);
    let (mut base, mut adapted) = (Vec::new(), Vec::new());
    let mut secs = 0.0;
    for _ in 0..rounds {
        let t = Instant::now();
        secs = model.synthesize(&tokens, &style, 1.0)?.audio.len() as f64 / 24_000.0;
        base.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        model.adapted(&adapter)?.synthesize(&tokens, &style, 1.0)?;
        adapted.push(t.elapsed().as_secs_f64());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let fold = Instant::now();
    for _ in 0..100 {
        model.adapted(&adapter)?;
    }
    let fold_ms = fold.elapsed().as_secs_f64() * 10.0;
    let (b, a) = (median(&mut base), median(&mut adapted));
    println!(
        "{secs:.2} s of audio, {} adapter parameters: base {b:.3} s, adapted {a:.3} s (median of {rounds}), ratio {:.3}; folding the adapter alone {fold_ms:.2} ms",
        adapter.parameters(),
        a / b
    );
    Ok(())
}
