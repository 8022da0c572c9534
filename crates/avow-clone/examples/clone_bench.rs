//! Cloning benchmark on the shared LibriSpeech speakers (issue #6): enroll
//! each speaker from 5 utterances, synthesize 10 new sentences with the
//! clone, and compare with the speaker's 5 held-out utterances.
//!
//! cargo run --release -p avow-clone --example clone_bench -- [--steps N] [--speakers 1688,2033] [--out DIR]

use std::path::{Path, PathBuf};
use std::time::Instant;

use avow_clone::{apply_offset, search, style_spread, CloneTarget, PitchTracker, SearchConfig, SpeakerEmbedder};
use avow_kokoro::KModel;
use avow_speaker::{Embedding, SpeakerEncoder};
use candle_core::Tensor;

const EVAL_SENTENCES: &[&str] = &[
    "The old lighthouse keeper counted ships until dawn.",
    "Do you remember where we parked the car last night?",
    "Fresh snow covered the fields behind the farmhouse.",
    "My sister finally fixed the squeaky garden gate.",
    "It is much too cold to go swimming today.",
    "They sold every single painting at the spring fair.",
    "Which road leads to the station from here?",
    "The baker rose early to light the big stone oven.",
    "We watched the storm from the kitchen window.",
    "Nobody expected the quiet student to win the prize.",
];

struct Encoder(SpeakerEncoder);
impl SpeakerEmbedder for Encoder {
    fn embed_tensor(&self, wav: &Tensor) -> candle_core::Result<Tensor> {
        self.0.embed_tensor(wav)
    }
}

fn load_16k(path: &Path) -> Vec<f32> {
    let audio = avow_audio::read_audio(path).expect("read audio");
    let mono = audio.to_mono();
    let x = if audio.sample_rate == 16_000 { mono } else { avow_audio::resample(&mono, audio.sample_rate, 16_000).unwrap() };
    avow_speaker::frontend::normalize_volume(&x)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let steps: usize = arg("--steps").map(|s| s.parse().unwrap()).unwrap_or(40);
    let out = arg("--out").map(PathBuf::from);
    let data = PathBuf::from(std::env::var("AVOW_SHARED_DATA").unwrap_or_else(|_| "../shared/data/librispeech".into())).join("test-other");
    let speakers: Vec<String> = arg("--speakers")
        .map(|s| s.split(',').map(String::from).collect())
        .unwrap_or_else(|| ["1688", "1998", "2033", "2609", "3080"].map(String::from).to_vec());
    let all_speakers = ["1688", "1998", "2033", "2609", "3080"];

    let cache = avow_models::ModelCache::from_dir_or_env(None).unwrap();
    let files = cache.ensure(false).unwrap();
    let model = KModel::from_file(&files.weights).unwrap();
    let encoder = Encoder(SpeakerEncoder::from_cache(false).unwrap());
    let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab).unwrap()).unwrap();
    let front = avow_text::TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new().unwrap(), vocab);
    let tokens = |text: &str| -> Vec<u32> {
        let u = front.prepare(text, avow_text::Language::EnUs).unwrap();
        u.into_iter().flat_map(|u| u.ids).collect()
    };
    let training: Vec<Vec<u32>> = avow_clone::sentences::TRAINING_EN.iter().map(|s| tokens(s)).collect();
    let eval: Vec<Vec<u32>> = EVAL_SENTENCES.iter().map(|s| tokens(s)).collect();
    let mut stock: Vec<(String, Vec<f32>)> = files
        .voices
        .iter()
        .map(|(name, path)| {
            let pack = avow_voice::VoicePackData::from_bytes(&std::fs::read(path).unwrap()).unwrap();
            (name.clone(), pack.style)
        })
        .collect();
    stock.sort_by(|a, b| a.0.cmp(&b.0));
    let tables: Vec<&[f32]> = stock.iter().map(|(_, t)| t.as_slice()).collect();
    let spread = style_spread(&tables).unwrap();
    let tracker = PitchTracker::new(16_000);

    // Held-out centroids of every speaker, for ranking.
    let mut held_centroids = Vec::new();
    let mut utterances = std::collections::BTreeMap::new();
    for s in all_speakers {
        let mut files: Vec<PathBuf> = std::fs::read_dir(data.join(s)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let wavs: Vec<Vec<f32>> = files.iter().map(|p| load_16k(p)).collect();
        let held: Vec<Embedding> = wavs[5..].iter().map(|w| encoder.0.embed(w).unwrap()).collect();
        held_centroids.push((s.to_string(), Embedding::centroid(&held).unwrap()));
        utterances.insert(s.to_string(), wavs);
    }

    let speak = |table: &[f32], ids: &[u32]| -> Vec<f32> {
        let row = ids.len().saturating_sub(1).min(509);
        let audio = model.synthesize(ids, &table[row * 256..(row + 1) * 256], 1.0).unwrap().audio;
        avow_audio::resample(&audio, 24_000, 16_000).unwrap()
    };
    let centroid_of = |table: &[f32], set: &[Vec<u32>]| -> (Embedding, Vec<Vec<f32>>) {
        let wavs: Vec<Vec<f32>> = set.iter().map(|ids| speak(table, ids)).collect();
        let embs: Vec<Embedding> = wavs.iter().map(|w| encoder.0.embed(&avow_speaker::frontend::normalize_volume(w)).unwrap()).collect();
        (Embedding::centroid(&embs).unwrap(), wavs)
    };

    println!("| speaker | base voice | base cos | clone cos | rank | F0 speaker | F0 clone | enroll s |");
    println!("|---|---|---|---|---|---|---|---|");
    for s in &speakers {
        let wavs = &utterances[s];
        let t0 = Instant::now();
        let enroll: Vec<Embedding> = wavs[..5].iter().map(|w| encoder.0.embed(w).unwrap()).collect();
        let target_e = Embedding::centroid(&enroll).unwrap();
        let pitch = tracker.stats(wavs[..5].iter().map(|w| w.as_slice())).unwrap();
        // Base: the stock voice whose speech on two training sentences is closest.
        let (best, _) = stock
            .iter()
            .enumerate()
            .map(|(i, (_, table))| (i, centroid_of(table, &training[..2]).0.cosine(&target_e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let target = CloneTarget { embedding: target_e.as_slice().to_vec(), mean_log2_f0: Some(pitch.mean_log2) };
        let result = search(&model, &encoder, &stock[best].1, &spread, &training, &target, &SearchConfig { steps, ..Default::default() }, |r| {
            eprintln!("  {s} step {:>3}: cos {:.3} f0 err {:+.3} oct |z| {:.2}", r.step, r.cosine, r.f0_error.unwrap_or(f32::NAN), r.offset_rms)
        })
        .unwrap();
        let enroll_secs = t0.elapsed().as_secs_f32();
        let clone_table = apply_offset(&stock[best].1, &result.offset);
        let (clone_c, clone_wavs) = centroid_of(&clone_table, &eval);
        let (base_c, _) = centroid_of(&stock[best].1, &eval);
        let own = held_centroids.iter().find(|(n, _)| n == s).unwrap().1.clone();
        let mut scores: Vec<(String, f32)> = held_centroids.iter().map(|(n, c)| (n.clone(), clone_c.cosine(c))).collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let rank = scores.iter().position(|(n, _)| n == s).unwrap() + 1;
        let clone_pitch = tracker.stats(clone_wavs.iter().map(|w| w.as_slice())).unwrap();
        let all_pitch = tracker.stats(wavs.iter().map(|w| w.as_slice())).unwrap();
        println!(
            "| {s} | {} | {:.3} | {:.3} | {rank} | {:.0} Hz | {:.0} Hz | {:.0} |",
            stock[best].0,
            base_c.cosine(&own),
            clone_c.cosine(&own),
            all_pitch.median_hz,
            clone_pitch.median_hz,
            enroll_secs
        );
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            for (i, w) in clone_wavs.iter().enumerate() {
                avow_audio::write_wav(dir.join(format!("{s}-clone-{i:02}.wav")), w, 16_000, avow_audio::WavFormat::Pcm16).unwrap();
            }
        }
    }
}
