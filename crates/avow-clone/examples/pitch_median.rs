//! YIN median F0 over a set of audio files (any rate and channel count,
//! resampled to 16 kHz), pooled over all voiced frames: the statistic the
//! cloning benchmarks judge pitch by. Prints the median and each file's.
//!
//! cargo run --release -p avow-clone --example pitch_median -- FILE...

use avow_clone::PitchTracker;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        return Err("usage: pitch_median FILE...".into());
    }
    let tracker = PitchTracker::new(16_000);
    let mut wavs = Vec::with_capacity(files.len());
    for file in &files {
        let audio = avow_audio::read_audio(file)?;
        let wav = avow_audio::resample(&audio.to_mono(), audio.sample_rate, 16_000)?;
        let median = tracker.stats([wav.as_slice()]).map_or(f32::NAN, |p| p.median_hz);
        println!("{file}\t{median:.1} Hz");
        wavs.push(wav);
    }
    let all = tracker.stats(wavs.iter().map(Vec::as_slice)).ok_or("too few voiced frames")?;
    println!("pooled median {:.2} Hz (log2 {:.4})", all.median_hz, all.median_log2());
    Ok(())
}
