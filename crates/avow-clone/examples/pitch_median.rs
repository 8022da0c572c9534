//! YIN median F0 over a set of audio files (any rate and channel count,
//! resampled to 16 kHz), pooled over all voiced frames: the statistic the
//! cloning benchmarks judge pitch by. Prints the median and each file's.
//!
//! cargo run --release -p avow-clone --example pitch_median -- FILE...

use avow_clone::{PitchStats, PitchTracker};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        return Err("usage: pitch_median FILE...".into());
    }
    let tracker = PitchTracker::new(16_000);
    let mut pooled = Vec::new();
    for file in &files {
        let audio = avow_audio::read_audio(file)?;
        let mono = avow_audio::downmix(&audio.samples, audio.channels);
        let wav = avow_audio::resample(&mono, audio.sample_rate, 16_000)?;
        let voiced: Vec<f32> = tracker.track(&wav).into_iter().filter(|&f| f > 0.0).collect();
        let median = PitchStats::from_voiced(voiced.clone()).map_or(f32::NAN, |p| p.median_hz);
        println!("{file}\t{median:.1} Hz\t{} voiced frames", voiced.len());
        pooled.extend(voiced);
    }
    let all = PitchStats::from_voiced(pooled).ok_or("too few voiced frames")?;
    println!("pooled median {:.2} Hz (log2 {:.4})", all.median_hz, all.median_log2());
    Ok(())
}
