//! Times the parts of a clone: plain synthesis of training sentences (what
//! choosing the start voice and the pitch correction cost) and search steps
//! (forward and backward through Kokoro and the speaker encoder).
//!
//! cargo run --release -p avow-clone --example search_step -- [--steps N] [--syntheses N] [--allocator-defaults]
//!
//! `--allocator-defaults` skips [`avow_alloc::tune`], to measure what it saves.
//! The last line is the process's peak resident memory (Linux).
//!
//! The target is an arbitrary unit vector: the cost of a step does not
//! depend on where the search is going.

use std::time::Instant;

use avow_clone::{search, style_spread, CloneTarget, SearchConfig, SpeakerEmbedder};
use avow_kokoro::KModel;
use avow_speaker::SpeakerEncoder;
use candle_core::Tensor;

// As in the CLI, so that allocation costs are the ones users see.
#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

struct Encoder(SpeakerEncoder);
impl SpeakerEmbedder for Encoder {
    fn embed_tensor(&self, wav: &Tensor) -> candle_core::Result<Tensor> {
        self.0.embed_tensor(wav)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--allocator-defaults") {
        avow_alloc::tune();
    }
    let arg = |name: &str, default: usize| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(|s| s.parse().expect("a number")).unwrap_or(default)
    };
    let steps = arg("--steps", 4);
    let syntheses = arg("--syntheses", 4);
    let cache = avow_models::ModelCache::from_dir_or_env(None).expect("model cache");
    let files = cache.ensure(false).expect("model files");
    let model = KModel::from_file(&files.weights).expect("Kokoro weights");
    let encoder = Encoder(SpeakerEncoder::from_cache(false).expect("speaker encoder"));
    let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab).expect("vocab")).expect("vocab json");
    let front = avow_text::TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new().expect("espeak-ng"), vocab);
    let training: Vec<Vec<u32>> = avow_clone::sentences::TRAINING_EN
        .iter()
        .map(|s| front.prepare(s, avow_text::Language::EnUs).expect("phonemize").into_iter().flat_map(|u| u.ids).collect())
        .collect();
    let (_, voice) = files.voices.iter().next().expect("a stock voice");
    let table = avow_voice::VoicePackData::from_bytes(&std::fs::read(voice).expect("voice")).expect("voice pack").style;
    let spread = style_spread(&[&table]).expect("spread");

    let start = Instant::now();
    let mut audio_secs = 0.0;
    for tokens in training.iter().cycle().take(syntheses) {
        let row = tokens.len().saturating_sub(1).min(avow_clone::STYLE_ROWS - 1);
        let style = &table[row * avow_clone::STYLE_DIM..(row + 1) * avow_clone::STYLE_DIM];
        audio_secs += model.synthesize(tokens, style, 1.0).expect("synthesis").audio.len() as f64 / 24_000.0;
    }
    let synth = start.elapsed().as_secs_f64();
    println!("synthesis: {syntheses} sentences, {audio_secs:.1} s of audio in {synth:.1} s ({:.2} s each)", synth / syntheses as f64);

    let mut embedding = vec![0f32; avow_speaker::EMBEDDING_DIM];
    embedding[0] = 1.0;
    let target = CloneTarget { embedding, log2_f0_median: Some(7.5) };
    let config = SearchConfig { steps, ..SearchConfig::default() };
    let mut last = Instant::now();
    let start = Instant::now();
    search(&model, &encoder, &table, &spread, &training, &target, &config, |r| {
        println!("step {}: {:.1} s", r.step, last.elapsed().as_secs_f64());
        last = Instant::now();
    })
    .expect("search");
    println!("search: {steps} steps in {:.1} s ({:.2} s each)", start.elapsed().as_secs_f64(), start.elapsed().as_secs_f64() / steps as f64);
    // With the tuned allocator freed memory stays mapped, so the high-water
    // mark is what a machine must have free.
    if let Some(peak) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
    {
        println!("peak resident memory: {}", peak.trim_start_matches("VmHWM:").trim());
    }
}
