//! Times the speaker encoder on one recording: the plain path
//! ([`SpeakerEncoder::embed`]), the differentiable path
//! ([`SpeakerEncoder::embed_tensor`]) and its backward pass, and prints the
//! cosine between the two paths.
//!
//!     cargo run -p avow-speaker --example embed_speed -- FILE.(wav|flac) [--repeat 3]
//!
//! The file may be at any rate and channel count; it is downmixed and
//! resampled to 16 kHz first. Times are the best of `--repeat` runs.

use std::path::PathBuf;
use std::time::Instant;

use avow_speaker::frontend::normalize_volume;
use avow_speaker::{Embedding, SpeakerEncoder};
use candle_core::{Tensor, Var};

fn best<T>(repeat: usize, mut f: impl FnMut() -> Result<T, String>) -> Result<(f64, T), String> {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let v = f()?;
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    last.map(|v| (best, v)).ok_or_else(|| "no runs".to_string())
}

fn run() -> Result<(), String> {
    let mut file = None;
    let mut repeat = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--repeat needs a number")?
            }
            other => file = Some(PathBuf::from(other)),
        }
    }
    let file = file.ok_or("usage: embed_speed FILE [--repeat N]")?;
    let audio = avow_audio::read_audio(&file).map_err(|e| e.to_string())?;
    let wav = avow_audio::resample(&audio.to_mono(), audio.sample_rate, 16_000)
        .map_err(|e| e.to_string())?;
    let wav = normalize_volume(&wav);
    let secs = wav.len() as f64 / 16_000.0;
    let enc = SpeakerEncoder::from_cache(true).map_err(|e| e.to_string())?;
    let err = |e: candle_core::Error| e.to_string();

    let (t_plain, plain) = best(repeat, || enc.embed(&wav).map_err(|e| e.to_string()))?;
    let input = Tensor::new(wav.as_slice(), enc.device()).map_err(err)?;
    let (t_fwd, emb) = best(repeat, || enc.embed_tensor(&input).map_err(err))?;
    let diff = Embedding::from_values(emb.to_vec1::<f32>().map_err(err)?)
        .ok_or("differentiable path gave a zero embedding")?;
    let target = Tensor::new(plain.as_slice(), enc.device()).map_err(err)?;
    let (t_bwd, _) = best(repeat, || {
        let var = Var::from_tensor(&input).map_err(err)?;
        let e = enc.embed_tensor(var.as_tensor()).map_err(err)?;
        let loss = (e * &target).and_then(|p| p.sum_all()).map_err(err)?;
        loss.backward().map_err(err)
    })?;
    println!("{}: {secs:.2} s of audio", file.display());
    println!(
        "embed (FFT front end):           {:.3} s ({:.0}x real time)",
        t_plain,
        secs / t_plain
    );
    println!("embed_tensor forward:            {:.3} s", t_fwd);
    println!("embed_tensor forward + backward: {:.3} s", t_bwd);
    println!("cosine(embed, embed_tensor) = {:.7}", plain.cosine(&diff));
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("embed_speed: {e}");
        std::process::exit(1);
    }
}
