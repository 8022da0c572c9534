//! Where the time to first audio goes, stage by stage, with the engine
//! already loaded: text front end (normalization, espeak-ng), each network
//! of the model, the watermark and the ledger append, then the whole gated
//! streaming path (`Engine::stream` up to its first piece) for comparison.
//!
//! `cargo run --release -p avow-engine --example first_audio_profile -- [--engine-only] [REPEATS] [TEXT...]`
//!
//! Prints, per text, the median CPU time (user + system of the whole
//! process, all threads: what other load on a busy machine inflates least)
//! and wall time of each stage over REPEATS runs, in milliseconds. The stage
//! breakdown re-runs the model's forward pass from its public blocks, so its
//! sum is close to, not identical with, the engine path's figure.

use std::collections::BTreeMap;
use std::time::Instant;

use avow_consent::ledger::{Ledger, LedgerEntry};
use avow_consent::Timestamp;
use avow_engine::{ConsentPurpose, Engine, EngineOptions};
use avow_kokoro::decoder::Decoder;
use avow_kokoro::layers::Linear;
use avow_kokoro::plbert::PlBert;
use avow_kokoro::predictor::ProsodyPredictor;
use avow_kokoro::text_encoder::TextEncoder;
use avow_models::ModelCache;
use avow_phonemize::EspeakPhonemizer;
use avow_text::frontend::TextFrontEnd;
use avow_text::lang::Language;
use avow_text::vocab::KokoroVocab;
use avow_watermark::{Key, Watermarker};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;

#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

const DEFAULT_TEXTS: [&str; 3] = [
    "Open.",
    "File menu, Open, Save As, Close.",
    "The meeting is on March 3rd, at 10:30. Please bring the printed agenda with you.",
];

/// User + system CPU time of the whole process (all threads), in ms.
fn cpu_ms() -> f64 {
    // /proc/self/schedstat covers one thread only; getrusage covers all.
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete rusage into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Per-stage samples of (CPU ms, wall ms), in first-seen order.
#[derive(Default)]
struct Profile {
    order: Vec<String>,
    notes: Vec<String>,
    samples: BTreeMap<String, Vec<(f64, f64)>>,
}

impl Profile {
    fn time<T>(&mut self, stage: &str, f: impl FnOnce() -> T) -> T {
        let (c, t) = (cpu_ms(), Instant::now());
        let out = f();
        self.record(stage, (c, t));
        out
    }

    /// Records the CPU and wall time since `since` under `stage`.
    fn record(&mut self, stage: &str, since: (f64, Instant)) {
        let sample = (cpu_ms() - since.0, since.1.elapsed().as_secs_f64() * 1e3);
        if !self.samples.contains_key(stage) {
            self.order.push(stage.to_string());
        }
        self.samples.entry(stage.to_string()).or_default().push(sample);
    }

    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    fn medians(&self) -> Vec<(String, f64, f64)> {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        self.order
            .iter()
            .map(|s| {
                let v = &self.samples[s];
                (s.clone(), median(v.iter().map(|x| x.0).collect()), median(v.iter().map(|x| x.1).collect()))
            })
            .collect()
    }
}

/// The model's networks, loaded separately so that each can be timed.
struct Blocks {
    bert: PlBert,
    bert_encoder: Linear,
    text_encoder: TextEncoder,
    predictor: ProsodyPredictor,
    decoder: Decoder,
}

impl Blocks {
    fn load(path: &std::path::Path) -> Result<Self, Box<dyn std::error::Error>> {
        let vb = VarBuilder::from_buffered_safetensors(std::fs::read(path)?, DType::F32, &Device::Cpu)?;
        Ok(Self {
            bert: PlBert::load(vb.pp("bert"))?,
            bert_encoder: Linear::load(vb.pp("bert_encoder"), true)?,
            text_encoder: TextEncoder::load(vb.pp("text_encoder"))?,
            predictor: ProsodyPredictor::load(vb.pp("predictor"))?,
            decoder: Decoder::load(vb.pp("decoder"))?,
        })
    }

    /// The forward pass of `KModel::synthesize`, one timed stage per network.
    fn synthesize(&self, p: &mut Profile, tokens: &[u32], style: &[f32]) -> candle_core::Result<usize> {
        let dev = Device::Cpu;
        let mut ids = vec![0u32];
        ids.extend_from_slice(tokens);
        ids.push(0);
        let t = ids.len();
        let ids = Tensor::new(ids.as_slice(), &dev)?.unsqueeze(0)?;
        let style = Tensor::new(style, &dev)?.unsqueeze(0)?;
        let prosody_style = style.narrow(1, 128, 128)?;
        let bert = p.time("model: PL-BERT", || self.bert.forward(&ids))?;
        let d_en = p.time("model: bert_encoder", || self.bert_encoder.forward(&bert)?.transpose(1, 2))?;
        let d = p.time("model: duration encoder (3 BiLSTM)", || self.predictor.text_encoder.forward(&d_en, &prosody_style))?;
        let raw: Vec<f32> = p.time("model: duration LSTM + proj", || self.predictor.durations(&d)?.to_vec1())?;
        let durations: Vec<usize> = raw.iter().map(|&x| x.round_ties_even().max(1.0) as usize).collect();
        let frames: usize = durations.iter().sum();
        p.note(format!(
            "first sentence: {t} tokens (pads included), {frames} frames ({:.2} s); frames per token: {durations:?}",
            (frames * 600) as f64 / 24_000.0,
        ));
        let alignment = p.time("model: alignment", || {
            let mut a = vec![0f32; t * frames];
            let mut f = 0;
            for (token, &n) in durations.iter().enumerate() {
                for _ in 0..n {
                    a[token * frames + f] = 1.0;
                    f += 1;
                }
            }
            Tensor::from_vec(a, (1, t, frames), &dev)
        })?;
        let (f0, energy) = p.time("model: F0/energy (shared LSTM + AdaIN blocks)", || {
            let en = d.transpose(1, 2)?.matmul(&alignment)?;
            self.predictor.f0_energy(&en, &prosody_style)
        })?;
        let asr = p.time("model: text encoder (CNN + BiLSTM)", || self.text_encoder.forward(&ids)?.matmul(&alignment))?;
        let audio = p.time("model: decoder + generator", || {
            self.decoder.forward(&asr, &f0, &energy, &style.narrow(1, 0, 128)?)?.squeeze(0)?.to_vec1::<f32>()
        })?;
        // How the decoder's cost grows with the frames it renders: a window
        // of the first n frames, as a stream's opening piece renders it.
        let decoder_style = style.narrow(1, 0, 128)?;
        for n in [8, 16, 32] {
            if n < frames {
                p.time(&format!("decoder + generator, first {n} frames only"), || -> candle_core::Result<()> {
                    let source = self.decoder.generator.harmonic_source_range(&f0, 0..2 * n)?;
                    let (f0, energy) = (f0.narrow(1, 0, 2 * n)?, energy.narrow(1, 0, 2 * n)?);
                    self.decoder.forward_with_source(&asr.narrow(2, 0, n)?, &f0, &energy, &decoder_style, &source)?;
                    Ok(())
                })?;
            }
        }
        Ok(audio.len())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    avow_alloc::tune();
    let mut args = std::env::args().skip(1).peekable();
    // `--engine-only`: time only the engine's path (for before/after runs).
    let engine_only = args.next_if_eq("--engine-only").is_some();
    let repeats: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5).max(1);
    let texts: Vec<String> = args.collect();
    let texts: Vec<String> = if texts.is_empty() { DEFAULT_TEXTS.iter().map(|s| s.to_string()).collect() } else { texts };

    let dir = tempfile::tempdir()?;
    let options = EngineOptions { ledger: Some(dir.path().join("ledger.jsonl")), ..Default::default() };
    let (c, t) = (cpu_ms(), Instant::now());
    let engine = Engine::open(&options)?;
    eprintln!("engine open: {:.0} ms CPU, {:.0} ms wall", cpu_ms() - c, t.elapsed().as_secs_f64() * 1e3);
    let (c, t) = (cpu_ms(), Instant::now());
    let voice = engine.stock_voice("jf_alpha", ConsentPurpose::Aac, "en-us")?;
    eprintln!("stock voice (consent verify): {:.0} ms CPU, {:.0} ms wall", cpu_ms() - c, t.elapsed().as_secs_f64() * 1e3);

    // The same pieces the engine holds, outside it, so each can be timed.
    let files = ModelCache::from_dir_or_env(None)?.ensure(false)?;
    let vocab = KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab)?)?;
    let front = TextFrontEnd::new(EspeakPhonemizer::new()?, vocab);
    let blocks = Blocks::load(&files.weights)?;
    let mut ledger = Ledger::open(&dir.path().join("profile-ledger.jsonl"))?;
    let key = Key::default_public();
    let lang = Language::EnUs;

    println!("load average: {}", std::fs::read_to_string("/proc/loadavg")?.trim());
    println!("threads: {}", std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into()));
    for text in &texts {
        let mut p = Profile::default();
        for _ in 0..repeats {
            // The engine's own path, up to its first piece.
            let since = (cpu_ms(), Instant::now());
            let mut stream = engine.stream(&voice, text, 1.0)?;
            let first_len = stream.next().ok_or("no audio")??.len();
            p.record("ENGINE: stream() to first piece", since);
            let mut total_len = first_len;
            for piece in stream {
                total_len += piece?.len();
            }
            p.record("ENGINE: stream() to the end of the text", since);
            p.note(format!("stream: first piece {:.2} s of {:.2} s of audio", first_len as f64 / 24_000.0, total_len as f64 / 24_000.0));
            if engine_only {
                continue;
            }
            // Its stages, one by one, for the first sentence.
            let sentences = p.time("front: sentence split", || front.split(text))?;
            let first = sentences.first().ok_or("no sentence")?;
            let utterances = p.time("front: normalize + espeak + vocab (first sentence)", || front.prepare_sentence(first, lang))?;
            let u = utterances.first().ok_or("no utterance")?;
            let style = voice.style_row(u.ids.len().saturating_sub(1));
            let samples = p.time("model: total", || blocks.synthesize(&mut Profile::default(), &u.ids, style))?;
            blocks.synthesize(&mut p, &u.ids, style)?;
            let raw = vec![0.01f32; samples];
            let marked = p.time("watermark: new + stream + finish", || -> Result<Vec<f32>, avow_watermark::WatermarkError> {
                let mut s = Watermarker::new(&key, voice.consent().watermark_payload()).into_stream();
                let mut out = s.push(&raw)?;
                out.extend(s.finish());
                Ok(out)
            })?;
            p.time("ledger: hash + append + fsync", || -> Result<(), Box<dyn std::error::Error>> {
                let bytes = avow_audio::to_s16le(&marked)?;
                let entry = LedgerEntry::for_synthesis(voice.consent(), first, &bytes, Timestamp::now());
                ledger.append(&entry)?;
                Ok(())
            })?;
        }
        println!("\n{text:?}, median of {repeats}:");
        for note in &p.notes {
            println!("{note}");
        }
        println!("| stage | CPU ms | wall ms |\n|---|---|---|");
        for (stage, cpu, wall) in p.medians() {
            println!("| {stage} | {cpu:.0} | {wall:.0} |");
        }
    }
    Ok(())
}
