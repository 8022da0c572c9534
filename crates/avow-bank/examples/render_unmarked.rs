//! Renders each line of a text file with a stock voice straight through the
//! model (no engine, so no watermark) into DIR/uNN.wav at 24 kHz: unmarked
//! hosts of avow's own voice for the watermark benchmark
//! (`robustness --phrases DIR`). Every output of the engine is marked, so
//! this is the only way to give the embedder Kokoro speech as its input.
//!
//! cargo run --release -p avow-bank --example render_unmarked -- LINES.txt DIR [VOICE]
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(lines), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: render_unmarked LINES.txt DIR [VOICE]");
        std::process::exit(2);
    };
    let voice = args.get(3).map_or("jf_alpha", String::as_str);
    let cache = avow_models::ModelCache::from_dir_or_env(None).expect("model cache");
    let files = cache.ensure(false).expect("model files (run `avow models fetch`)");
    let model = avow_kokoro::KModel::from_file(&files.weights).expect("weights");
    let vocab = avow_text::KokoroVocab::from_json(&std::fs::read_to_string(&files.vocab).expect("vocab")).expect("vocab");
    let front = avow_text::TextFrontEnd::new(avow_phonemize::EspeakPhonemizer::new().expect("espeak-ng"), vocab);
    let path = files.voices.iter().find(|(n, _)| n.as_str() == voice).map(|(_, p)| p.clone()).expect("no such stock voice");
    let table = avow_voice::VoicePackData::from_bytes(&std::fs::read(path).expect("voice")).expect("voice").style;
    std::fs::create_dir_all(dir).expect("output folder");
    let text = std::fs::read_to_string(lines).expect("lines");
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let mut audio = Vec::new();
        for u in front.prepare(line, avow_text::Language::EnUs).expect("text") {
            let row = u.ids.len().saturating_sub(1).min(509);
            audio.extend(model.synthesize(&u.ids, &table[row * 256..(row + 1) * 256], 1.0).expect("synthesis").audio);
        }
        let out = PathBuf::from(dir).join(format!("u{:02}.wav", i + 1));
        avow_audio::write_wav(&out, &audio, 24_000, avow_audio::WavFormat::Pcm16).expect("write");
    }
}
