//! Cloning benchmark on the shared LibriSpeech speakers (issue #6): enroll
//! each speaker from 5 utterances, synthesize 10 new sentences with the
//! clone, and compare with the speaker's 5 held-out utterances.
//!
//! Every recording goes through the enrollment front door `avow enroll` uses
//! (`avow_speaker::enrollment`: ends trimmed, loudness normalized, embedded
//! after resemblyzer's preprocessing), and so does every synthesized
//! utterance that is embedded or compared, so both sides are treated alike.
//!
//! Besides GE2E likeness (which the search optimizes) it reports a measure
//! independent of GE2E: the mel-cepstral distance between the speaker's
//! held-out recordings and the same text (Whisper's transcript) spoken by the
//! start voice and by the clone.
//!
//! cargo run --release -p avow-clone --example clone_bench -- [--steps N] [--speakers 1688,2033] [--out DIR]
//!
//! With `--out DIR`, the clone's and the start voices' speech of the 10
//! evaluation sentences is written there (16 kHz) for the intelligibility
//! check (benches/clone/wer.py).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use avow_clone::{
    finish, search, semitones, style_spread, CloneError, CloneTarget, FinishConfig, PitchStats, PitchTracker, SearchConfig, SpeakerEmbedder,
    WordErrorCounter,
};
use avow_kokoro::{KModel, StyleAdapter};
use avow_speaker::enrollment::{self, Limits, Recording};
use avow_speaker::{Embedding, SpeakerEncoder};
use candle_core::Tensor;


/// Whisper tiny.en's transcripts of the shared clips (equal to our Whisper's).
const TRANSCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../avow-asr/tests/fixtures/faster_whisper_transcripts.json");

const SPEAKERS: [&str; 5] = ["1688", "1998", "2033", "2609", "3080"];

struct Encoder(SpeakerEncoder);
impl SpeakerEmbedder for Encoder {
    fn embed_tensor(&self, wav: &Tensor) -> candle_core::Result<Tensor> {
        self.0.embed_tensor(wav)
    }
}

/// Whisper as the intelligibility guard's judge, as in `avow enroll`.
struct Whisper<'a>(&'a avow_asr::Transcriber);
impl WordErrorCounter for Whisper<'_> {
    fn word_errors(&self, audio_16k: &[f32], text: &str) -> Result<(usize, usize), CloneError> {
        let heard = self.0.transcribe(audio_16k).map_err(|e| CloneError::Judge(e.to_string()))?;
        let errors = avow_asr::word_errors(text, &heard.text);
        Ok((errors.edits(), errors.reference_words))
    }
}

/// A speaker's recordings as the benchmark uses them.
struct Speaker {
    files: Vec<PathBuf>,
    /// Held-out utterances 5–9, prepared.
    held: Vec<Recording>,
    /// Whisper's transcripts of the held-out utterances.
    held_texts: Vec<String>,
    /// YIN statistics over all 10 utterances.
    pitch_all: PitchStats,
}

// As in the CLI, so that timings are the ones users see.
#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

fn main() {
    avow_alloc::tune();
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let steps: usize = arg("--steps").map(|s| s.parse().expect("--steps takes a number")).unwrap_or(16);
    let out = arg("--out").map(PathBuf::from);
    let data = PathBuf::from(std::env::var("AVOW_SHARED_DATA").unwrap_or_else(|_| "../shared/data/librispeech".into())).join("test-other");
    let speakers: Vec<String> =
        arg("--speakers").map(|s| s.split(',').map(String::from).collect()).unwrap_or_else(|| SPEAKERS.map(String::from).to_vec());

    let cache = avow_models::ModelCache::from_dir_or_env(None).expect("model cache");
    let files = cache.ensure(false).expect("model files");
    let model = KModel::from_file(&files.weights).expect("Kokoro weights");
    let encoder = Encoder(SpeakerEncoder::from_cache(false).expect("speaker encoder"));
    let asr = avow_asr::Transcriber::open_default(false).expect("Whisper");
    let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab).expect("vocab")).expect("vocab json");
    let front = avow_text::TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new().expect("espeak-ng"), vocab);
    // A text as the model's utterances (long texts are split by the front end).
    let chunks = |text: &str| -> Vec<Vec<u32>> {
        front.prepare(text, avow_text::Language::EnUs).expect("phonemize").into_iter().map(|u| u.ids).collect()
    };
    let tokens = |text: &str| -> Vec<u32> { chunks(text).concat() };
    let training: Vec<Vec<u32>> = avow_clone::sentences::TRAINING_EN.iter().map(|s| tokens(s)).collect();
    let eval: Vec<Vec<u32>> = avow_clone::sentences::EVAL_EN.iter().map(|s| tokens(s)).collect();
    let mut stock: Vec<(String, Vec<f32>)> = files
        .voices
        .iter()
        .map(|(name, path)| {
            let pack = avow_voice::VoicePackData::from_bytes(&std::fs::read(path).expect("voice pack")).expect("voice pack");
            (name.clone(), pack.style)
        })
        .collect();
    stock.sort_by(|a, b| a.0.cmp(&b.0));
    let tables: Vec<&[f32]> = stock.iter().map(|(_, t)| t.as_slice()).collect();
    let spread = style_spread(&tables).expect("style spread");
    let tracker = PitchTracker::new(16_000);
    let transcripts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(TRANSCRIPTS).expect("transcript fixture")).expect("transcript json");
    let transcript_of = |path: &Path| -> String {
        let rel = path.strip_prefix(data.parent().expect("data dir")).expect("file under the data dir").to_string_lossy().into_owned();
        transcripts["files"]
            .as_array()
            .and_then(|files| files.iter().find(|f| f["path"] == rel.as_str()))
            .and_then(|f| f["text"].as_str())
            .unwrap_or_else(|| panic!("no transcript for {rel}"))
            .to_string()
    };
    let no_minimum = Limits { min_speech_secs: 0.0, ..Limits::default() };

    // Held-out centroids of every speaker, for ranking.
    let mut held_centroids = Vec::new();
    let mut by_name = BTreeMap::new();
    for s in SPEAKERS {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(data.join(s)).expect("speaker dir").map(|e| e.expect("dir entry").path()).collect();
        paths.sort();
        assert_eq!(paths.len(), 10, "speaker {s} needs 10 utterances");
        let held: Vec<Recording> = paths[5..].iter().map(|p| enrollment::prepare_file(p, &encoder.0, &no_minimum).expect("held-out utterance")).collect();
        let held_embeddings: Vec<Embedding> = held.iter().map(|r| r.embedding.clone()).collect();
        held_centroids.push((s.to_string(), Embedding::centroid(&held_embeddings).expect("centroid")));
        let held_texts = paths[5..].iter().map(|p| transcript_of(p)).collect();
        let all_16k: Vec<Vec<f32>> = paths[..5]
            .iter()
            .map(|p| enrollment::prepare_file(p, &encoder.0, &no_minimum).expect("utterance").audio_16k)
            .chain(held.iter().map(|r| r.audio_16k.clone()))
            .collect();
        let pitch_all = tracker.stats(all_16k.iter().map(|w| w.as_slice())).expect("voiced speech");
        by_name.insert(s.to_string(), Speaker { files: paths, held, held_texts, pitch_all });
    }

    // Synthesis at 24 kHz of `ids`, long texts as several utterances.
    let speak_24k = |m: &KModel, table: &[f32], parts: &[Vec<u32>]| -> Vec<f32> {
        let mut audio = Vec::new();
        for ids in parts {
            let row = ids.len().saturating_sub(1).min(avow_clone::STYLE_ROWS - 1);
            let style = &table[row * avow_clone::STYLE_DIM..(row + 1) * avow_clone::STYLE_DIM];
            audio.extend(m.synthesize(ids, style, 1.0).expect("synthesis").audio);
        }
        audio
    };
    // Synthesized speech prepared exactly like a recording.
    let prepared = |m: &KModel, table: &[f32], parts: &[Vec<u32>]| -> Recording {
        let audio = speak_24k(m, table, parts);
        enrollment::prepare_samples(Path::new("synthesis"), &audio, avow_kokoro::SAMPLE_RATE, 1, &encoder.0, &no_minimum)
            .expect("synthesized speech passes the front door")
    };
    let centroid_of = |m: &KModel, table: &[f32], set: &[Vec<u32>]| -> (Embedding, Vec<Recording>) {
        let recs: Vec<Recording> = set.iter().map(|ids| prepared(m, table, std::slice::from_ref(ids))).collect();
        let embs: Vec<Embedding> = recs.iter().map(|r| r.embedding.clone()).collect();
        (Embedding::centroid(&embs).expect("centroid"), recs)
    };
    // Mean MCD (dB, 16 kHz) between the held-out recordings and `table` saying their text.
    let mcd_of = |m: &KModel, table: &[f32], speaker: &Speaker| -> f32 {
        let sum: f32 = speaker
            .held
            .iter()
            .zip(&speaker.held_texts)
            .map(|(real, text)| {
                let synth = prepared(m, table, &chunks(text));
                avow_audio::cepstrum::mel_cepstral_distance(&real.audio_16k, &synth.audio_16k, 16_000).expect("MCD")
            })
            .sum();
        sum / speaker.held.len() as f32
    };

    println!("| speaker | start voice | start cos | clone cos | rank (of 5) | F0 target (enroll) | F0 speaker (all 10) | F0 clone | Δ semitones | MCD start dB | MCD clone dB | enroll s |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut totals = Totals::default();
    let mut written_stock = std::collections::BTreeSet::new();
    for s in &speakers {
        let speaker = by_name.get(s).unwrap_or_else(|| panic!("unknown speaker {s}"));
        let t0 = Instant::now();
        // The enrollment front door, as `avow enroll` runs it.
        let enrolled = enrollment::prepare(&speaker.files[..5], &encoder.0, &Limits::default()).expect("enrollment accepted");
        let target_e = enrolled.centroid.clone();
        let pitch = tracker.stats(enrolled.recordings.iter().map(|r| r.audio_16k.as_slice())).expect("voiced reference");
        // Start: the stock voice whose speech on two training sentences is closest.
        let (best, _) = stock
            .iter()
            .enumerate()
            .map(|(i, (_, table))| (i, centroid_of(&model, table, &training[..2]).0.cosine(&target_e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("stock voices");
        let target = CloneTarget { embedding: target_e.as_slice().to_vec(), log2_f0_median: Some(pitch.median_log2()) };
        let result = search(&model, &encoder, &stock[best].1, &spread, &training, &target, &SearchConfig { steps, ..Default::default() }, |r| {
            eprintln!(
                "  {s} step {:>3}: cos {:.3} f0 err {:+.2} st |z| {:.2}",
                r.step,
                r.cosine,
                12.0 * r.f0_error.unwrap_or(f32::NAN),
                r.offset_rms
            )
        })
        .expect("search");
        let (start_name, start_table) = (&stock[best].0, &stock[best].1);
        // As `avow enroll` finishes it: the pitch the search left over as a
        // shift, and Whisper's intelligibility guard.
        let done = finish(
            &model,
            start_table,
            &result.offset,
            &training,
            avow_clone::sentences::TRAINING_EN,
            Some(pitch.median_log2()),
            &Whisper(&asr),
            &FinishConfig::default(),
        )
        .expect("finish");
        let (clone_table, shift) = (done.style.clone(), done.kept.pitch_shift);
        let clone_model = model.adapted(&StyleAdapter::default().with_pitch_shift(shift).expect("shift")).expect("adapted model");
        let enroll_secs = t0.elapsed().as_secs_f32();
        eprintln!(
            "  {s}: pitch correction {shift:+.2} semitones; guard kept offset scale {} ({}/{} words misheard)",
            done.kept.offset_scale, done.kept.word_errors, done.kept.words
        );
        let (clone_c, clone_recs) = centroid_of(&clone_model, &clone_table, &eval);
        let (start_c, start_recs) = centroid_of(&model, start_table, &eval);
        let own = &held_centroids.iter().find(|(n, _)| n == s).expect("own centroid").1;
        let mut scores: Vec<(&str, f32)> = held_centroids.iter().map(|(n, c)| (n.as_str(), clone_c.cosine(c))).collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let rank = scores.iter().position(|(n, _)| n == s).expect("ranked") + 1;
        let clone_pitch = tracker.stats(clone_recs.iter().map(|r| r.audio_16k.as_slice())).expect("voiced clone speech");
        let delta = 12.0 * (clone_pitch.median_hz / speaker.pitch_all.median_hz).log2();
        let (mcd_start, mcd_clone) = (mcd_of(&model, start_table, speaker), mcd_of(&clone_model, &clone_table, speaker));
        let (start_cos, clone_cos) = (start_c.cosine(own), clone_c.cosine(own));
        println!(
            "| {s} | {start_name} | {start_cos:.3} | **{clone_cos:.3}** | {rank} | {:.0} Hz | {:.0} Hz | {:.0} Hz | {delta:+.1} | {mcd_start:.2} | {mcd_clone:.2} | {enroll_secs:.0} |",
            pitch.median_hz, speaker.pitch_all.median_hz, clone_pitch.median_hz,
        );
        totals.add(start_cos, clone_cos, rank, semitones(clone_pitch.median_hz, speaker.pitch_all.median_hz), mcd_start, mcd_clone);
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).expect("output dir");
            for (i, r) in clone_recs.iter().enumerate() {
                avow_audio::write_wav(dir.join(format!("{s}-clone-{i:02}.wav")), &r.audio_16k, 16_000, avow_audio::WavFormat::Pcm16).expect("write wav");
            }
            if written_stock.insert(start_name.clone()) {
                for (i, r) in start_recs.iter().enumerate() {
                    avow_audio::write_wav(dir.join(format!("{start_name}-{i:02}.wav")), &r.audio_16k, 16_000, avow_audio::WavFormat::Pcm16)
                        .expect("write wav");
                }
            }
        }
    }
    let n = totals.count as f32;
    println!(
        "| **mean** | | {:.3} | **{:.3}** | {} of {} first | | | | {} of {} within 1.5 | {:.2} | {:.2} | |",
        totals.start_cos / n,
        totals.clone_cos / n,
        totals.first,
        totals.count,
        totals.within,
        totals.count,
        totals.mcd_start / n,
        totals.mcd_clone / n
    );
}

#[derive(Default)]
struct Totals {
    count: usize,
    start_cos: f32,
    clone_cos: f32,
    first: usize,
    within: usize,
    mcd_start: f32,
    mcd_clone: f32,
}

impl Totals {
    fn add(&mut self, start_cos: f32, clone_cos: f32, rank: usize, f0_semitones: f32, mcd_start: f32, mcd_clone: f32) {
        self.count += 1;
        self.start_cos += start_cos;
        self.clone_cos += clone_cos;
        self.first += usize::from(rank == 1);
        self.within += usize::from(f0_semitones <= 1.5);
        self.mcd_start += mcd_start;
        self.mcd_clone += mcd_clone;
    }
}
