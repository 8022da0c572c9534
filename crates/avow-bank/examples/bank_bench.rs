//! Voice-banking benchmark on the shared LibriSpeech speakers (issue #7).
//! For each speaker: the first utterances are the bank (the last of them
//! held out for early stopping), the last 5 are never trained on. The start
//! voice is the stock voice whose speech is closest (GE2E) to the bank,
//! optionally refined by the style search; the adapter is then trained on the
//! bank and passed through the intelligibility guard, as `avow bank train`
//! does ("train s" includes the guard). Start and adapted voices are
//! compared on
//! - GE2E cosine between 10 new sentences and the 5 held-out utterances
//!   (centroids), and the rank of the own speaker among the 5;
//! - mel-cepstral distance to 2 held-out recordings, synthesizing their
//!   transcripts (Whisper tiny.en's, from the ASR fixture) — no GE2E involved;
//! - median F0 (YIN) against the speaker's.
//!
//! `--steps 0` stops after the clone stage (the style search as `avow enroll`
//! runs it, pitch correction included). `--extra-sentences FILE` (one
//! sentence per line, e.g. `benches/clone/wer_sentences.txt`) also counts
//! Whisper's word errors for every stage on those sentences: the 10
//! evaluation sentences hold 87 words, so one word moves their WER by 1.1
//! points. `--swap-halves` enrolls from utterances 5–9 and holds out 0–4,
//! the same protocol on the other split.
//!
//! cargo run --release -p avow-bank --example bank_bench -- [--steps N] [--bank K] [--clone-steps N] [--speaker-weight W] [--speakers 1688,2033] [--extra-sentences FILE] [--swap-halves] [--out DIR]

use std::path::{Path, PathBuf};
use std::time::Instant;

use avow_bank::{adapt, align, AdaptConfig};
use avow_clone::{finish, search, style_spread, CloneTarget, FinishConfig, PitchTracker, SearchConfig, SpeakerEmbedder};
use avow_kokoro::{KModel, StyleAdapter};
use avow_speaker::{Embedding, SpeakerEncoder};
use candle_core::Tensor;

const SPEAKERS: [&str; 5] = ["1688", "1998", "2033", "2609", "3080"];

struct Encoder<'a>(&'a SpeakerEncoder);
impl SpeakerEmbedder for Encoder<'_> {
    fn embed_tensor(&self, wav: &Tensor) -> candle_core::Result<Tensor> {
        self.0.embed_tensor(wav)
    }
}

// As in the CLI, so that timings are the ones users see.
#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

fn main() {
    avow_alloc::tune();
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let steps: usize = arg("--steps").map(|s| s.parse().unwrap()).unwrap_or(150);
    let bank: usize = arg("--bank").map(|s| s.parse().unwrap()).unwrap_or(5);
    let clone_steps: usize = arg("--clone-steps").map(|s| s.parse().unwrap()).unwrap_or(0);
    let out = arg("--out").map(PathBuf::from);
    let swap_halves = args.iter().any(|a| a == "--swap-halves");
    let speakers: Vec<String> =
        arg("--speakers").map(|s| s.split(',').map(String::from).collect()).unwrap_or_else(|| SPEAKERS.map(String::from).to_vec());
    let root = PathBuf::from(std::env::var("AVOW_SHARED_DATA").unwrap_or_else(|_| "../shared/data/librispeech".into()));
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../avow-asr/tests/fixtures/faster_whisper_transcripts.json")).unwrap(),
    )
    .unwrap();
    let transcript = |path: &Path| -> String {
        let rel = path.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        fixture["files"].as_array().unwrap().iter().find(|f| f["path"] == rel.as_str()).expect("transcript")["text"].as_str().unwrap().to_string()
    };

    let cache = avow_models::ModelCache::from_dir_or_env(None).unwrap();
    let files = cache.ensure(false).unwrap();
    let model = KModel::from_file(&files.weights).unwrap();
    let encoder = SpeakerEncoder::from_cache(false).unwrap();
    let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab).unwrap()).unwrap();
    let front = avow_text::TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new().unwrap(), vocab);
    let tokens = |text: &str| -> Vec<u32> { front.prepare(text, avow_text::Language::EnUs).unwrap().into_iter().flat_map(|u| u.ids).collect() };
    let extra: Option<Vec<(Vec<u32>, String)>> = arg("--extra-sentences").map(|path| {
        std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(|l| (tokens(l), l.trim().to_string())).collect()
    });
    let eval: Vec<Vec<u32>> = avow_clone::sentences::EVAL_EN.iter().map(|s| tokens(s)).collect();
    let training: Vec<Vec<u32>> = avow_clone::sentences::TRAINING_EN.iter().map(|s| tokens(s)).collect();
    let mut stock: Vec<(String, Vec<f32>)> = files
        .voices
        .iter()
        .map(|(name, path)| (name.clone(), avow_voice::VoicePackData::from_bytes(&std::fs::read(path).unwrap()).unwrap().style))
        .collect();
    stock.sort_by(|a, b| a.0.cmp(&b.0));
    let tables: Vec<&[f32]> = stock.iter().map(|(_, t)| t.as_slice()).collect();
    let spread = style_spread(&tables).unwrap();
    let tracker = PitchTracker::new(16_000);
    let limits = avow_speaker::enrollment::Limits::default();

    // Every speaker's utterances, prepared as enrollment prepares them.
    let mut utts = std::collections::BTreeMap::new();
    let mut held_centroids = Vec::new();
    for s in SPEAKERS {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join("test-other").join(s)).unwrap().map(|e| e.unwrap().path()).collect();
        paths.sort();
        if swap_halves {
            paths.rotate_left(5);
        }
        let recs: Vec<avow_speaker::enrollment::Recording> =
            paths.iter().map(|p| avow_speaker::enrollment::prepare_file(p, &encoder, &limits).unwrap()).collect();
        let held: Vec<Embedding> = recs[5..].iter().map(|r| r.embedding.clone()).collect();
        held_centroids.push((s.to_string(), Embedding::centroid(&held).unwrap()));
        utts.insert(s.to_string(), (paths, recs));
    }

    let speak = |m: &KModel, table: &[f32], ids: &[u32]| -> Vec<f32> {
        let row = ids.len().saturating_sub(1).min(509);
        m.synthesize(ids, &table[row * 256..(row + 1) * 256], 1.0).unwrap().audio
    };
    let to16 = |w: &[f32]| avow_audio::resample(w, 24_000, 16_000).unwrap();
    let centroid_of = |m: &KModel, table: &[f32], set: &[Vec<u32>]| -> (Embedding, Vec<Vec<f32>>) {
        let wavs: Vec<Vec<f32>> = set.iter().map(|ids| to16(&speak(m, table, ids))).collect();
        let embs: Vec<Embedding> = wavs.iter().map(|w| encoder.embed(&avow_speaker::frontend::normalize_volume(w)).unwrap()).collect();
        (Embedding::centroid(&embs).unwrap(), wavs)
    };

    let asr = avow_asr::Transcriber::open_default(false).unwrap();
    // Word errors and reference words over 16 kHz renderings of `texts`, summed.
    let word_errors = |wavs: &[Vec<f32>], texts: &[&str]| -> (usize, usize) {
        let (mut edits, mut words) = (0, 0);
        for (w, text) in wavs.iter().zip(texts) {
            let e = avow_asr::word_errors(text, &asr.transcribe(w).unwrap().text);
            edits += e.substitutions + e.deletions + e.insertions;
            words += e.reference_words;
        }
        (edits, words)
    };
    let percent = |(edits, words): (usize, usize)| 100.0 * edits as f64 / words.max(1) as f64;
    let word_error_rate = |wavs: &[Vec<f32>]| -> f64 { percent(word_errors(wavs, avow_clone::sentences::EVAL_EN)) };

    println!("Stages: stock (closest stock voice) → clone (style search, when --clone-steps > 0) → adapted (bank adapter on the clone's style).");
    println!();
    println!("| speaker | start voice | bank s | GE2E | rank | MCD (dB) | F0 speaker / stages (Hz) | WER % | train s | best step |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut sums: Vec<[f64; 4]> = Vec::new();
    for s in &speakers {
        let (paths, recs) = &utts[s];
        let bank_recs = &recs[..bank.min(5)];
        let bank_secs: f64 = bank_recs.iter().map(|r| r.audio_24k.len() as f64 / 24_000.0).sum();
        let bank_emb: Vec<Embedding> = bank_recs.iter().map(|r| r.embedding.clone()).collect();
        let target_e = Embedding::centroid(&bank_emb).unwrap();
        let pitch = tracker.stats(bank_recs.iter().map(|r| r.audio_16k.as_slice())).unwrap();
        let (best, _) = stock
            .iter()
            .enumerate()
            .map(|(i, (_, table))| (i, centroid_of(&model, table, &training[..2]).0.cosine(&target_e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let t0 = Instant::now();
        let mut stages: Vec<(&str, KModel, Vec<f32>)> = vec![("stock", model.clone(), stock[best].1.clone())];
        if clone_steps > 0 {
            let target = CloneTarget { embedding: target_e.as_slice().to_vec(), log2_f0_median: Some(pitch.median_log2()) };
            let cfg = SearchConfig { steps: clone_steps, ..Default::default() };
            let r = search(&model, &Encoder(&encoder), &stock[best].1, &spread, &training, &target, &cfg, |_| {}).unwrap();
            // As `avow enroll` finishes it: the pitch left over after the
            // search as a shift, and Whisper's intelligibility guard.
            let done = finish(
                &model,
                &stock[best].1,
                &r.offset,
                &training,
                avow_clone::sentences::TRAINING_EN,
                Some(pitch.median_log2()),
                &avow_enroll::WhisperJudge(&asr),
                &FinishConfig::default(),
            )
            .unwrap();
            let shift = done.kept.pitch_shift;
            let clone_model = model.adapted(&StyleAdapter::default().with_pitch_shift(shift).unwrap()).unwrap();
            stages.push(("clone", clone_model, done.style));
            let guard: Vec<String> = done.checks.iter().map(|c| format!("{}: {}/{}", c.offset_scale, c.word_errors, c.words)).collect();
            eprintln!(
                "  {s}: style search ({clone_steps} steps), pitch correction ({shift:+.2} st) and guard (offset scale: word errors {}; kept {}) in {:.0} s",
                guard.join(", "),
                done.kept.offset_scale,
                t0.elapsed().as_secs_f32()
            );
        }
        let table = stages.last().unwrap().2.clone();
        // --steps 0 stops after the clone: the style search's own benchmark.
        let mut banked = None;
        if steps > 0 {
            let aligned: Vec<avow_bank::AlignedRecording> = bank_recs
                .iter()
                .zip(paths)
                .map(|(r, p)| {
                    let ids = tokens(&transcript(p));
                    let row = ids.len().saturating_sub(1).min(509);
                    align(&model, &ids, &table[row * 256..(row + 1) * 256], &r.audio_24k).unwrap()
                })
                .collect();
            let (train, held) = if aligned.len() > 1 { aligned.split_at(aligned.len() - 1) } else { (&aligned[..], &[][..]) };
            eprintln!("  {s}: aligned {} recordings in {:.0} s", aligned.len(), t0.elapsed().as_secs_f32());
            let validate_every: usize = arg("--validate-every").map(|v| v.parse().unwrap()).unwrap_or(25);
            // The guide is the bank's own centroid: the held-out utterances stay unseen.
            let speaker_weight: f64 = arg("--speaker-weight").map(|v| v.parse().unwrap()).unwrap_or(AdaptConfig::default().speaker_weight);
            let guide = (speaker_weight > 0.0).then(|| avow_bank::SpeakerGuide { encoder: &encoder, embedding: target_e.as_slice() });
            let config = AdaptConfig { steps, validate_every, speaker_weight, ..Default::default() };
            let result = adapt(&model, &table, train, held, &config, guide.as_ref(), None, |r| {
                if let Some(v) = r.validation_loss {
                    eprintln!("  {s} step {:>4}: train {:.3} validation {v:.3} ({:.0} s)", r.step, r.train_loss, t0.elapsed().as_secs_f32());
                }
            })
            .unwrap();
            eprintln!("  {s}: start validation {:?}, best {:?} at step {}", result.start_validation, result.best_validation, result.best_step);
            // As `avow bank train` finishes it: Whisper's intelligibility guard.
            let texts = avow_bank::guard::GUARD_TEXTS_EN;
            let sentences: Vec<Vec<u32>> = texts.iter().map(|t| tokens(t)).collect();
            let guarded = avow_bank::guard_adapter(
                &model,
                &table,
                &result.adapter,
                &sentences,
                texts,
                &avow_enroll::WhisperJudge(&asr),
                &FinishConfig::default(),
            )
            .unwrap();
            let checks: Vec<String> = guarded.checks.iter().map(|c| format!("{}: {}/{}", c.offset_scale, c.word_errors, c.words)).collect();
            let train_secs = t0.elapsed().as_secs_f32();
            eprintln!("  {s}: guard (adapter scale: word errors {}; kept {}) done at {train_secs:.0} s", checks.join(", "), guarded.kept.offset_scale);
            stages.push(("adapted", model.adapted(&guarded.voice).unwrap(), table.clone()));
            banked = Some((result, guarded.voice, train_secs));
        }

        let own = &held_centroids.iter().find(|(n, _)| n == s).unwrap().1;
        let rank_of = |c: &Embedding| {
            let mut scores: Vec<(String, f32)> = held_centroids.iter().map(|(n, h)| (n.clone(), c.cosine(h))).collect();
            scores.sort_by(|a, b| b.1.total_cmp(&a.1));
            scores.iter().position(|(n, _)| n == s).unwrap() + 1
        };
        let mcd = |m: &KModel, table: &[f32]| -> f32 {
            let mut sum = 0.0;
            for (r, p) in recs[5..7].iter().zip(&paths[5..7]) {
                let w = speak(m, table, &tokens(&transcript(p)));
                sum += avow_audio::cepstrum::mel_cepstral_distance(&w, &r.audio_24k, 24_000).unwrap();
            }
            sum / 2.0
        };
        let f0 = |w: &[Vec<f32>]| tracker.stats(w.iter().map(|x| x.as_slice())).map(|p| p.median_hz).unwrap_or(0.0);
        let speaker_f0 = tracker.stats(recs.iter().map(|r| r.audio_16k.as_slice())).unwrap().median_hz;
        let (mut cos, mut ranks, mut mcds, mut f0s, mut wers) = (vec![], vec![], vec![], vec![], vec![]);
        let mut clips = Vec::new();
        for (name, m, t) in &stages {
            let (c, wavs) = centroid_of(m, t, &eval);
            cos.push(format!("{:.3}", c.cosine(own)));
            ranks.push(rank_of(&c).to_string());
            mcds.push(format!("{:.2}", mcd(m, t)));
            f0s.push(format!("{:.0}", f0(&wavs)));
            wers.push(format!("{:.1}", word_error_rate(&wavs)));
            if sums.len() < stages.len() {
                sums.push([0.0; 4]);
            }
            let i = clips.len();
            sums[i][0] += c.cosine(own) as f64;
            sums[i][1] += (rank_of(&c) == 1) as u8 as f64;
            sums[i][2] += mcd_value(&mcds[i]);
            sums[i][3] += 1.0;
            clips.push((*name, wavs));
        }
        // A larger intelligibility sample than the 10 evaluation
        // sentences' 87 words, where one word is 1.1 points.
        if let Some(list) = &extra {
            let mut counts = Vec::new();
            let texts: Vec<&str> = list.iter().map(|(_, text)| text.as_str()).collect();
            for (name, m, t) in &stages {
                let wavs: Vec<Vec<f32>> = list.iter().map(|(ids, _)| to16(&speak(m, t, ids))).collect();
                let (edits, words) = word_errors(&wavs, &texts);
                counts.push(format!("{name} {edits}/{words} ({:.1} %)", percent((edits, words))));
            }
            eprintln!("  {s}: word errors on the extra sentences: {}", counts.join(", "));
        }
        println!(
            "| {s} | {} | {bank_secs:.0} | {} | {} | {} | {speaker_f0:.0} / {} | {} | {} | {} |",
            stock[best].0,
            cos.join(" → "),
            ranks.join(" → "),
            mcds.join(" → "),
            f0s.join(" → "),
            wers.join(" → "),
            banked.as_ref().map_or("-".into(), |(_, _, secs)| format!("{secs:.0}")),
            banked.as_ref().map_or("-".into(), |(r, _, _)| r.best_step.to_string())
        );
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            for (name, wavs) in &clips {
                for (i, w) in wavs.iter().enumerate() {
                    avow_audio::write_wav(dir.join(format!("{s}-{name}-{i:02}.wav")), w, 16_000, avow_audio::WavFormat::Pcm16).unwrap();
                }
            }
            let Some((_, adapter, _)) = &banked else { continue };
            let pack = avow_voice::VoicePackData {
                meta: avow_voice::VoiceMeta { name: format!("bank-{s}"), language: "en-us".into(), model: "kokoro-82m-v1.0".into() },
                style: table.clone(),
                adapters: adapter.to_tensors(),
                speaker: None,
            };
            std::fs::write(dir.join(format!("{s}.voice.safetensors")), pack.to_bytes().unwrap()).unwrap();
        }
    }
    let n = sums.first().map(|x| x[3]).unwrap_or(0.0);
    let join = |k: usize, digits: usize| sums.iter().map(|x| format!("{:.*}", digits, x[k] / n.max(1.0))).collect::<Vec<_>>().join(" → ");
    println!(
        "| mean of {n} | | | {} | {} first | {} | | | | |",
        join(0, 3),
        sums.iter().map(|x| format!("{} of {n}", x[1])).collect::<Vec<_>>().join(" → "),
        join(2, 2)
    );
}

fn mcd_value(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}
