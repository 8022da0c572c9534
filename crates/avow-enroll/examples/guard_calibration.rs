//! Word error rates on the intelligibility guard's sentences (the odd
//! training sentences, `avow_clone::finish`) for every stock voice and for
//! any voice packs given: what the guard's limits are set from.
//!
//! cargo run --release -p avow-enroll --example guard_calibration -- [--all] [PACK...]
//!
//! `--all` judges all the training sentences instead: the set voice banking's
//! guard uses (`avow_bank::guard::GUARD_TEXTS_EN`).
//!
//! Packs are spoken with their style table and pitch shift, without the
//! consent gate: run it on clones you made, not on anyone's published voice.

use std::time::Instant;

use avow_kokoro::{KModel, StyleAdapter};

#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    avow_alloc::tune();
    let cache = avow_models::ModelCache::from_dir_or_env(None)?;
    let files = cache.ensure(false)?;
    let model = KModel::from_file(&files.weights)?;
    let asr = avow_asr::Transcriber::load(&avow_asr::AsrCache::new(cache.dir()).ensure(false)?)?;
    let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab)?)?;
    let front = avow_text::TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new()?, vocab);
    let all = std::env::args().any(|a| a == "--all");
    let guard: Vec<(&str, Vec<u32>)> = avow_clone::sentences::TRAINING_EN
        .iter()
        .skip(usize::from(!all))
        .step_by(if all { 1 } else { 2 })
        .map(|s| Ok((*s, front.prepare(s, avow_text::Language::EnUs)?.into_iter().flat_map(|u| u.ids).collect())))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let mut voices: Vec<(String, avow_voice::VoicePackData)> = Vec::new();
    for (name, path) in &files.voices {
        voices.push((name.clone(), avow_voice::VoicePackData::from_bytes(&std::fs::read(path)?)?));
    }
    for path in std::env::args().skip(1).filter(|a| a != "--all") {
        voices.push((path.clone(), avow_voice::VoicePackData::from_bytes(&std::fs::read(&path)?)?));
    }
    println!("| voice | word errors / words | WER % |");
    println!("|---|---|---|");
    let mut asr_secs = 0.0;
    let mut transcribed = 0;
    for (name, pack) in &voices {
        let voice = model.adapted(&StyleAdapter::from_tensors(&pack.adapters)?)?;
        let (mut errors, mut words) = (0, 0);
        let mut misheard = Vec::new();
        for (text, ids) in &guard {
            let audio = voice.synthesize(ids, pack.style_row(ids.len().saturating_sub(1)), 1.0)?.audio;
            let audio_16k = avow_audio::resample(&audio, avow_kokoro::SAMPLE_RATE, 16_000)?;
            let t = Instant::now();
            let heard = asr.transcribe(&audio_16k)?.text;
            asr_secs += t.elapsed().as_secs_f64();
            transcribed += 1;
            let e = avow_asr::word_errors(text, &heard);
            if e.edits() > 0 {
                misheard.push(heard.trim().to_string());
            }
            errors += e.edits();
            words += e.reference_words;
        }
        println!("| {name} | {errors} / {words} | {:.1} |", 100.0 * errors as f64 / words.max(1) as f64);
        for m in misheard {
            eprintln!("  {name} heard: {m}");
        }
    }
    eprintln!("Whisper: {:.2} s per sentence", asr_secs / transcribed.max(1) as f64);
    Ok(())
}
