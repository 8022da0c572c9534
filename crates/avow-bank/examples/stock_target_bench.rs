//! Voice banking with a known target (issue #7): the "speaker" is a stock
//! voice, so there is unlimited speech of it and its own synthesis is the
//! ground truth. Starting from another stock voice, an adapter is trained on
//! 1, 3 and 10 minutes of the target's speech (the transcripts of the shared
//! LibriSpeech utterances, spoken by the target) and the adapted voice is
//! compared with the target on the 10 evaluation sentences, which no
//! training set contains:
//! - GE2E cosine between the centroids of the two voices' 10 renderings;
//! - mel-cepstral distance between the renderings of the same sentence
//!   (DTW-aligned), averaged;
//! - median F0 (YIN).
//!
//! Training is guided, as `avow bank train` is, by the GE2E centroid of the
//! training speech itself (`--speaker-weight 0` turns the guide off).
//!
//! cargo run --release -p avow-bank --example stock_target_bench -- [--start jf_nezumi] [--target jf_alpha] [--minutes 1,3,10] [--steps 150] [--speaker-weight 1]

use std::path::Path;
use std::time::Instant;

use avow_bank::{adapt, align, AdaptConfig, AlignedRecording};
use avow_clone::PitchTracker;
use avow_kokoro::KModel;
use avow_speaker::{Embedding, SpeakerEncoder};

// As in the CLI, so that timings are the ones users see.
#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

fn main() {
    avow_alloc::tune();
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let start_name = arg("--start").unwrap_or_else(|| "jf_nezumi".into());
    let target_name = arg("--target").unwrap_or_else(|| "jf_alpha".into());
    let steps: usize = arg("--steps").map(|s| s.parse().unwrap()).unwrap_or(150);
    let minutes: Vec<f64> =
        arg("--minutes").unwrap_or_else(|| "1,3,10".into()).split(',').map(|m| m.parse().unwrap()).collect();
    let validate_every: usize = arg("--validate-every").map(|v| v.parse().unwrap()).unwrap_or(25);
    let speaker_weight: f64 =
        arg("--speaker-weight").map(|v| v.parse().unwrap()).unwrap_or(AdaptConfig::default().speaker_weight);

    let cache = avow_models::ModelCache::from_dir_or_env(None).unwrap();
    let files = cache.ensure(false).unwrap();
    let model = KModel::from_file(&files.weights).unwrap();
    let encoder = SpeakerEncoder::from_cache(false).unwrap();
    let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab).unwrap()).unwrap();
    let front = avow_text::TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new().unwrap(), vocab);
    let table_of = |name: &str| -> Vec<f32> {
        let path = &files.voices.iter().find(|(n, _)| n.as_str() == name).unwrap_or_else(|| panic!("no stock voice {name}")).1;
        avow_voice::VoicePackData::from_bytes(&std::fs::read(path).unwrap()).unwrap().style
    };
    let (start_table, target_table) = (table_of(&start_name), table_of(&target_name));
    let speak = |m: &KModel, table: &[f32], ids: &[u32]| -> Vec<f32> {
        let row = ids.len().saturating_sub(1).min(509);
        m.synthesize(ids, &table[row * 256..(row + 1) * 256], 1.0).unwrap().audio
    };
    let to16 = |w: &[f32]| avow_audio::resample(w, 24_000, 16_000).unwrap();

    // The training corpus: every chunk of the shared utterances' transcripts.
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../avow-asr/tests/fixtures/faster_whisper_transcripts.json")).unwrap(),
    )
    .unwrap();
    let units: Vec<Vec<u32>> = fixture["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| front.prepare(f["text"].as_str().unwrap(), avow_text::Language::EnUs).unwrap())
        .map(|u| u.ids)
        .filter(|ids| ids.len() >= 8)
        .collect();
    let largest = minutes.iter().cloned().fold(0.0, f64::max) * 60.0;
    let t0 = Instant::now();
    // The target speaks the corpus; the start voice's synthesis aligns it.
    let mut corpus: Vec<AlignedRecording> = Vec::new();
    let mut corpus_audio: Vec<Vec<f32>> = Vec::new();
    let mut seconds = 0.0;
    for ids in &units {
        let audio = speak(&model, &target_table, ids);
        let row = ids.len().saturating_sub(1).min(509);
        let rec = align(&model, ids, &start_table[row * 256..(row + 1) * 256], &audio).unwrap();
        seconds += rec.secs() as f64;
        corpus.push(rec);
        corpus_audio.push(audio);
        // Two more recordings beyond the largest set are held out.
        if seconds > largest && corpus.len() >= 3 {
            break;
        }
    }
    let held = corpus.split_off(corpus.len() - 2);
    let available: f64 = corpus.iter().map(|r| r.secs() as f64).sum();
    eprintln!("target speech: {} recordings, {available:.0} s for training, aligned in {:.0} s", corpus.len(), t0.elapsed().as_secs_f32());

    let eval: Vec<Vec<u32>> = avow_clone::sentences::EVAL_EN
        .iter()
        .map(|s| front.prepare(s, avow_text::Language::EnUs).unwrap().into_iter().flat_map(|u| u.ids).collect())
        .collect();
    let tracker = PitchTracker::new(16_000);
    let render = |m: &KModel, table: &[f32]| -> Vec<Vec<f32>> { eval.iter().map(|ids| speak(m, table, ids)).collect() };
    let centroid = |wavs: &[Vec<f32>]| -> Embedding {
        let embs: Vec<Embedding> = wavs.iter().map(|w| encoder.embed(&avow_speaker::frontend::normalize_volume(&to16(w))).unwrap()).collect();
        Embedding::centroid(&embs).unwrap()
    };
    let f0 = |wavs: &[Vec<f32>]| {
        let w16: Vec<Vec<f32>> = wavs.iter().map(|w| to16(w)).collect();
        tracker.stats(w16.iter().map(|x| x.as_slice())).map(|p| p.median_hz).unwrap_or(0.0)
    };
    let target_wavs = render(&model, &target_table);
    let target_c = centroid(&target_wavs);
    let mcd = |wavs: &[Vec<f32>]| -> f32 {
        wavs.iter().zip(&target_wavs).map(|(a, b)| avow_audio::cepstrum::mel_cepstral_distance(a, b, 24_000).unwrap()).sum::<f32>()
            / wavs.len() as f32
    };
    let start_wavs = render(&model, &start_table);
    println!("Start {start_name}, target {target_name}; {steps} steps, speaker weight {speaker_weight}; evaluation: the 10 sentences of avow_clone::sentences::EVAL_EN.");
    println!();
    println!("| training speech | GE2E to target | MCD to target (dB) | F0 target / voice (Hz) | train s | best step |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| none ({start_name}) | {:.3} | {:.2} | {:.0} / {:.0} | | |",
        centroid(&start_wavs).cosine(&target_c),
        mcd(&start_wavs),
        f0(&target_wavs),
        f0(&start_wavs)
    );
    for &m in &minutes {
        let mut take = 0;
        let mut secs = 0.0;
        while take < corpus.len() && secs < m * 60.0 {
            secs += corpus[take].secs() as f64;
            take += 1;
        }
        let t0 = Instant::now();
        // The guide sees only the training speech, never the evaluation sentences.
        let guide_embedding = centroid(&corpus_audio[..take]);
        let guide = (speaker_weight > 0.0)
            .then(|| avow_bank::SpeakerGuide { encoder: &encoder, embedding: guide_embedding.as_slice() });
        let config = AdaptConfig { steps, validate_every, speaker_weight, ..Default::default() };
        let result = adapt(&model, &start_table, &corpus[..take], &held, &config, guide.as_ref(), None, |r| {
            if let Some(v) = r.validation_loss {
                eprintln!("  {m} min step {:>4}: train {:.3} validation {v:.3} ({:.0} s)", r.step, r.train_loss, t0.elapsed().as_secs_f32());
            }
        })
        .unwrap();
        let train_secs = t0.elapsed().as_secs_f32();
        let adapted = model.adapted(&result.adapter).unwrap();
        let wavs = render(&adapted, &start_table);
        println!(
            "| {:.1} min ({take} recordings) | {:.3} | {:.2} | {:.0} / {:.0} | {train_secs:.0} | {} |",
            secs / 60.0,
            centroid(&wavs).cosine(&target_c),
            mcd(&wavs),
            f0(&target_wavs),
            f0(&wavs),
            result.best_step
        );
    }
}
