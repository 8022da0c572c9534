//! The avow engine: the only way to turn text into speech.
//!
//! A voice is obtained only through the consent gate ([`Engine::load_voice`],
//! [`Engine::stock_voice`]): the voice pack and its signed consent record are
//! verified for a purpose and a language, and the pack is parsed from the
//! exact bytes that were hashed. The gate also stands alone
//! ([`ConsentGate`]), so a command can refuse a voice before it spends
//! seconds loading the model, then load it behind the same gate
//! ([`Engine::with_gate`]). Synthesis ([`Engine::speak`],
//! [`Engine::stream`]) runs the text front end and the Kokoro model, marks
//! every sample with the watermark whose payload the consent record names,
//! and appends an entry to the audit ledger (fsync'd) before the audio is
//! returned. Nothing here returns unmarked audio or accepts raw style vectors.
//!
//! Not for: model weights management (`avow-models`), the record format
//! (`avow-consent`), or the model itself (`avow-kokoro`, a lower crate that
//! this one does not re-export).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use avow_consent::ledger::{Ledger, LedgerEntry};
use avow_consent::{Purpose, Timestamp};
use avow_kokoro::model::SAMPLES_PER_FRAME;
use avow_kokoro::KModel;
use avow_phonemize::EspeakPhonemizer;
use avow_text::frontend::{TextFrontEnd, Utterance};
use avow_text::lang::Language;
use avow_text::vocab::KokoroVocab;
use avow_voice::Voice;
use avow_watermark::{EmbedStream, Key, Watermarker};

pub use avow_consent::Purpose as ConsentPurpose;
pub use avow_kokoro::SAMPLE_RATE;
pub use avow_voice::Voice as VerifiedVoice;

mod gate;
mod stock;

pub use gate::ConsentGate;
pub use stock::STOCK_VOICES;

/// Errors of the engine; each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The consent gate refused the voice.
    #[error("consent refused: {0}")]
    Consent(#[from] avow_consent::ConsentError),
    /// The voice pack verified but could not be parsed.
    #[error("voice pack: {0}")]
    VoicePack(#[from] avow_voice::VoicePackError),
    /// The model cache could not provide the weights.
    #[error(transparent)]
    Models(#[from] avow_models::ModelsError),
    /// The model failed or rejected its input.
    #[error(transparent)]
    Model(#[from] avow_kokoro::ModelError),
    /// The text could not be prepared for speech.
    #[error(transparent)]
    Text(#[from] avow_text::frontend::TextError),
    /// The phonemizer could not start.
    #[error("phonemizer: {0}")]
    Phonemizer(String),
    /// The watermark could not be applied (the audio is withheld).
    #[error("watermark: {0}")]
    Watermark(#[from] avow_watermark::WatermarkError),
    /// Audio encoding failed (non-finite samples).
    #[error("audio: {0}")]
    Audio(#[from] avow_audio::AudioError),
    /// The audit ledger could not record the synthesis (the audio is withheld).
    #[error("audit ledger: {0}")]
    Ledger(#[from] avow_consent::ledger::LedgerError),
    /// An unknown stock voice name.
    #[error("unknown voice `{name}`; stock voices: {}", STOCK_VOICES.join(", "))]
    UnknownVoice {
        /// The name asked for.
        name: String,
    },
    /// Bad arguments (speed, language, ...).
    #[error("{0}")]
    Invalid(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Where the engine finds its weights, trust roots and ledger.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Model cache directory (default: `AVOW_CACHE_DIR`, then the XDG cache).
    pub cache_dir: Option<PathBuf>,
    /// Trust directories (`*.pub` issuer keys). When any are given they are
    /// the only trust roots: they replace `AVOW_TRUST_DIR`, the user trust
    /// directory and the built-in stock-voice key (copy
    /// `consent/trust/avow-stock.pub` into one of them to keep the stock
    /// voices). Empty: `AVOW_TRUST_DIR`, else the user directory plus the
    /// built-in key (`consent/FORMAT.md` §7).
    pub trust_dirs: Vec<PathBuf>,
    /// Revocation directories. When any are given they replace
    /// `AVOW_REVOCATION_DIR` and the user revocation directory. Empty:
    /// `AVOW_REVOCATION_DIR`, else the user directory if it exists. Read
    /// again at every voice load, so a revocation written while the engine
    /// runs refuses the next load.
    pub revocation_dirs: Vec<PathBuf>,
    /// Audit ledger file (default: `AVOW_LEDGER`, then `$XDG_DATA_HOME/avow/ledger.jsonl`).
    pub ledger: Option<PathBuf>,
    /// Show progress bars while fetching weights on first use.
    pub progress: bool,
}

/// How a stream's first utterance is cut into pieces (see [`Engine::stream`]).
///
/// The first piece holds at least `opening_frames` frames (600 samples,
/// 25 ms each) from just before the first phoneme, up to the middle of the
/// next word boundary (a space or clause mark); each later piece holds at
/// least `growth` times the frames of the one before. The decoder's cost
/// grows with the frames it renders, so a short opening is heard soon;
/// pieces grow so that a player keeps ahead: while piece k+1 renders, the
/// pieces before it play, which holds for any model faster than 1/`growth`
/// of real time. Every cut is a seam (two renderings cross-faded, each
/// normalized over its own frames), so faster growth sounds closer to the
/// whole sentence but leaves gaps on a slower machine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PieceSchedule {
    /// Fewest frames in the first piece, counted from where it starts.
    pub opening_frames: usize,
    /// Each later piece holds at least this many times the frames of the
    /// one before (1 or more; `f32::INFINITY` renders all after the opening
    /// in one piece).
    pub growth: f32,
}

impl Default for PieceSchedule {
    /// An opening of a word or two (at least 20 frames), then the rest of
    /// the sentence in one piece. Measured on 2 cores (BENCHMARKS.md,
    /// "Pieces of the first sentence"): with the int8 kernels this comes
    /// within 300 ms without stalls; an 8-frame opening with growth 2 came
    /// up to 60 ms sooner (and, in f32, a shorter opening stalled), while
    /// every extra seam moved the sentence's sound further from its whole
    /// rendering.
    fn default() -> Self {
        Self { opening_frames: 20, growth: f32::INFINITY }
    }
}

impl PieceSchedule {
    /// The fewest frames of the piece after one of `previous` frames.
    fn next_min_frames(&self, previous: usize) -> usize {
        let grown = (previous as f32 * self.growth.max(1.0)).ceil();
        if grown.is_finite() && grown < usize::MAX as f32 {
            grown as usize
        } else {
            usize::MAX / 2
        }
    }
}

/// Fewest frames left after a cut for it to be made at all: a short
/// remainder is rendered with the piece before it.
pub const OPENING_REST_MIN_FRAMES: usize = 12;
/// Most tokens of a stream's first utterance (about ten words): a longer
/// first sentence is cut at a clause mark or word boundary before this, so
/// that the prosody predicted for the whole utterance before the first
/// piece (PL-BERT and the LSTMs, whose cost grows with its length) stays
/// small next to the opening's rendering.
pub const FIRST_UTTERANCE_MAX_TOKENS: usize = 64;
/// Fewest tokens on either side of that cut.
const FIRST_UTTERANCE_MIN_TOKENS: usize = 12;
/// Frames of the model's leading pad (near-silence, typically 0.3 s) that a
/// stream's first piece keeps before the first phoneme. Kept short so that
/// the first sound comes early and no time is spent rendering silence.
pub const LEAD_KEEP_FRAMES: usize = 2;
/// Frames rendered past a cut on each side, so that convolution edges fall
/// outside the audio that is kept.
const SEAM_CONTEXT_FRAMES: usize = 4;
/// Frames a stream renders after the model's predicted energy has fallen
/// to silence at the end of an utterance, for the last sound to decay. The
/// rest of the closing pause, typically 15 to 25 frames of near-silence
/// that would cost as much to render as speech, is streamed as digital
/// silence of the same length, so the timing is the model's.
pub const TAIL_KEEP_FRAMES: usize = 4;
/// Predicted energy below which a frame is silence: the model predicts
/// about −9 in pauses and 5 to 9 in speech (`N`, the decoder's input).
const SILENT_ENERGY: f32 = -8.0;
/// Samples over which two pieces of the first utterance cross-fade (25 ms).
const SEAM_FADE_SAMPLES: usize = SAMPLES_PER_FRAME;

/// Audio samples one period of the watermark pattern spans at
/// [`SAMPLE_RATE`] (a block of 140 units × 2 STFT frames × 256-sample hop,
/// see the `avow-watermark` layout). Pieces marked with
/// [`SpeakOptions::mark_offset`] line up on this grid.
pub const MARK_PERIOD_SAMPLES: u64 = avow_watermark::BLOCK_SAMPLES as u64;

/// How [`Engine::speak_with`] renders speech.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakOptions {
    /// The model's speaking rate (1.0 is natural; [`MIN_SPEED`]..=[`MAX_SPEED`]).
    pub speed: f32,
    /// Pitch-preserving tempo change applied to the synthesized speech
    /// before it is marked (1.0 = none, 1.1 = 10 % shorter;
    /// `avow_audio::stretch::MIN_TEMPO..=MAX_TEMPO`). Changing the tempo of
    /// already-marked audio would smear the mark; here the mark is applied
    /// to the final waveform.
    pub tempo: f32,
    /// Where, in samples at [`SAMPLE_RATE`], the first sample of this speech
    /// will sit in a longer track. The mark is laid on the grid of that
    /// track, so pieces placed at their offsets carry one continuous,
    /// in-phase mark, which a detector reading the whole track can fold
    /// together (independently marked pieces would each start their own
    /// pattern at an arbitrary phase). 0 for standalone audio.
    pub mark_offset: u64,
    /// Drop the near-silence the model renders for the pad tokens before
    /// the first and after the last phoneme (about 0.1–0.3 s each), with
    /// a 5 ms fade at the cut, so the speech starts at sample 0: what a
    /// caller placing speech at a time needs (the mark offset then refers
    /// to the first kept sample).
    pub trim_pads: bool,
}

impl Default for SpeakOptions {
    fn default() -> Self {
        Self { speed: 1.0, tempo: 1.0, mark_offset: 0, trim_pads: false }
    }
}

/// Fade applied where [`SpeakOptions::trim_pads`] cuts (5 ms at 24 kHz).
const TRIM_FADE_SAMPLES: usize = 120;

/// How long a text will take to say, known before any audio is made: the
/// model's duration prediction, without rendering. See [`Engine::timing`].
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechTiming {
    /// Unrounded frames per token (pads included) at speed 1, per utterance.
    raw_frames: Vec<Vec<f32>>,
}

impl SpeechTiming {
    /// Samples (at [`SAMPLE_RATE`]) that [`Engine::speak`] at `speed`
    /// produces for this text. Exact: the model rounds `frames / speed` per
    /// token (halves to even, at least one frame) and renders 600 samples
    /// per frame; this mirrors that rounding.
    pub fn samples_at(&self, speed: f32) -> usize {
        self.raw_frames
            .iter()
            .flatten()
            .map(|&d| round_half_even(d / speed).max(1.0) as usize * SAMPLES_PER_FRAME)
            .sum()
    }

    /// Samples that [`Engine::speak_with`] produces with `options` (speed,
    /// pad trimming, then the tempo change).
    pub fn samples_with(&self, options: &SpeakOptions) -> usize {
        let mut len = self.samples_at(options.speed);
        if options.trim_pads {
            let (lead, tail) = self.pad_samples_at(options.speed);
            len = len.saturating_sub(lead + tail);
        }
        avow_audio::stretch::stretched_len(len, options.tempo)
    }

    /// Samples of the leading pad of the first utterance and the trailing
    /// pad of the last one at `speed` (what [`SpeakOptions::trim_pads`] drops).
    pub fn pad_samples_at(&self, speed: f32) -> (usize, usize) {
        let frames = |d: Option<&f32>| d.map_or(0, |&d| round_half_even(d / speed).max(1.0) as usize * SAMPLES_PER_FRAME);
        let lead = frames(self.raw_frames.first().and_then(|u| u.first()));
        let tail = frames(self.raw_frames.last().and_then(|u| u.last()));
        (lead, tail)
    }
}


/// Rounds halves to even, as the model's duration rounding does.
fn round_half_even(x: f32) -> f32 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// Largest speed factor accepted.
pub const MAX_SPEED: f32 = 2.5;
/// Smallest speed factor accepted.
pub const MIN_SPEED: f32 = 0.5;

/// The loaded model, front end, consent gate and ledger. Thread-safe: share
/// one engine between callers (`&Engine` is `Sync`).
pub struct Engine {
    model: KModel,
    front: TextFrontEnd<EspeakPhonemizer>,
    /// Trust roots and the revocation directories read at each voice load
    /// (see [`EngineOptions::revocation_dirs`]).
    gate: ConsentGate,
    ledger: Mutex<Ledger>,
    key: Key,
}

/// Marked speech and what the ledger recorded for it.
#[derive(Debug, Clone)]
pub struct Speech {
    /// Mono samples at [`SAMPLE_RATE`], watermarked.
    pub samples: Vec<f32>,
    /// The watermark payload the samples carry.
    pub watermark: u32,
}

impl Engine {
    /// Loads the model (fetching and converting weights on first use), the
    /// phonemizer, the trust roots, revocations and the ledger.
    pub fn open(options: &EngineOptions) -> Result<Self, EngineError> {
        Self::with_gate(ConsentGate::open(options)?)
    }

    /// Loads the model, the phonemizer and the ledger behind a gate that is
    /// already open, with the options the gate was opened with. For callers
    /// that open their voice first ([`ConsentGate::load_voice`]), so that a
    /// refused record is reported without waiting seconds for the model.
    pub fn with_gate(gate: ConsentGate) -> Result<Self, EngineError> {
        let files = gate.model_files()?;
        let model = KModel::from_file(&files.weights)?;
        let vocab_text =
            std::fs::read_to_string(&files.vocab).map_err(|source| EngineError::Io { path: files.vocab.clone(), source })?;
        let vocab = KokoroVocab::from_json(&vocab_text).map_err(|e| EngineError::Invalid(format!("{}: {e}", files.vocab.display())))?;
        let phonemizer = EspeakPhonemizer::new().map_err(|e| EngineError::Phonemizer(e.to_string()))?;
        let ledger_path = match &gate.options().ledger {
            Some(p) => p.clone(),
            None => default_ledger_path()?,
        };
        if let Some(parent) = ledger_path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| EngineError::Io { path: parent.to_path_buf(), source })?;
        }
        let ledger = Ledger::open(&ledger_path)?;
        Ok(Self {
            model,
            front: TextFrontEnd::new(phonemizer, vocab),
            gate,
            ledger: Mutex::new(ledger),
            key: Key::default_public(),
        })
    }

    /// The consent gate for a voice pack file and its record: verifies for
    /// `purpose` and `language` (BCP-47, also the language spoken), against
    /// the revocations on disk now, and checks that a speaker adapter in the
    /// pack fits this model.
    pub fn load_voice(&self, pack: &Path, record: &Path, purpose: Purpose, language: &str) -> Result<Voice, EngineError> {
        let voice = self.gate.load_voice(pack, record, purpose, language)?;
        self.check_fits(&voice)?;
        Ok(voice)
    }

    /// A stock voice through its signed stock record.
    pub fn stock_voice(&self, name: &str, purpose: Purpose, language: &str) -> Result<Voice, EngineError> {
        self.gate.stock_voice(name, purpose, language)
    }

    /// Checks that a voice from a [`ConsentGate`] can speak through this
    /// model: a speaker adapter (voice banking) that does not fit it is
    /// refused now, not at the first sentence. [`Engine::load_voice`] does
    /// this itself.
    pub fn check_fits(&self, voice: &Voice) -> Result<(), EngineError> {
        self.model_for(voice).map(drop)
    }

    /// Speaks `text` with `voice` at `speed` (1.0 = natural) in the language
    /// the consent was verified for. The whole result is one ledger entry.
    pub fn speak(&self, voice: &Voice, text: &str, speed: f32) -> Result<Speech, EngineError> {
        let lang = self.language_of(voice)?;
        check_speed(speed)?;
        let utterances = self.front.prepare(text, lang)?;
        let mut raw = Vec::new();
        for u in &utterances {
            raw.extend(self.synthesize(voice, u, speed)?);
        }
        let marked = Watermarker::new(&self.key, voice.consent().watermark_payload()).embed(&raw)?;
        self.record(voice, text, &marked)?;
        Ok(Speech { samples: marked, watermark: voice.consent().watermark_payload() })
    }

    /// Like [`Engine::speak`], with a pitch-preserving tempo change and a mark
    /// placed on a longer track's grid (see [`SpeakOptions`]). The tempo
    /// change happens before the watermark and the ledger entry, so the
    /// returned audio carries an intact mark with the same payload as
    /// [`Engine::speak`]'s, and one ledger entry.
    pub fn speak_with(&self, voice: &Voice, text: &str, options: &SpeakOptions) -> Result<Speech, EngineError> {
        let lang = self.language_of(voice)?;
        check_speed(options.speed)?;
        check_tempo(options.tempo)?;
        let utterances = self.front.prepare(text, lang)?;
        let mut raw = Vec::new();
        let mut lead = 0;
        let mut tail = 0;
        for (k, u) in utterances.iter().enumerate() {
            let synthesis = self.synthesize_full(voice, u, options.speed)?;
            let pad = |d: Option<&u32>| d.map_or(0, |&d| d as usize * SAMPLES_PER_FRAME);
            if k == 0 {
                lead = pad(synthesis.durations.first());
            }
            if k + 1 == utterances.len() {
                tail = pad(synthesis.durations.last());
            }
            raw.extend(synthesis.audio);
        }
        if options.trim_pads {
            raw = trim_pads(raw, lead, tail);
        }
        let raw = avow_audio::stretch::time_stretch(&raw, SAMPLE_RATE, options.tempo)?;
        // Lead the marker in with silence up to the track's grid position;
        // the mark on silence is nil and the lead-in is dropped again.
        let lead = (options.mark_offset % MARK_PERIOD_SAMPLES) as usize;
        let marker = Watermarker::new(&self.key, voice.consent().watermark_payload());
        let mut stream = marker.stream();
        let mut marked = stream.push(&vec![0.0; lead])?;
        marked.extend(stream.push(&raw)?);
        marked.extend(stream.finish());
        marked.drain(..lead.min(marked.len()));
        self.record(voice, text, &marked)?;
        Ok(Speech { samples: marked, watermark: voice.consent().watermark_payload() })
    }

    /// How long `text` will take to say with `voice`, from the model's
    /// duration predictor alone (no audio is rendered, so nothing is marked
    /// or logged). For planning: fitting speech to a time slot before
    /// synthesizing it once.
    pub fn timing(&self, voice: &Voice, text: &str) -> Result<SpeechTiming, EngineError> {
        let lang = self.language_of(voice)?;
        let utterances = self.front.prepare(text, lang)?;
        let model = self.model_for(voice)?;
        let mut raw_frames = Vec::with_capacity(utterances.len());
        for u in &utterances {
            check_known(u)?;
            let mut ids = Vec::with_capacity(u.ids.len() + 2);
            ids.push(0u32);
            ids.extend_from_slice(&u.ids);
            ids.push(0);
            let device = self.model.device();
            let model_err = |e: candle_core::Error| EngineError::Model(avow_kokoro::ModelError::Candle(e));
            let ids = candle_core::Tensor::new(ids.as_slice(), device).and_then(|t| t.unsqueeze(0)).map_err(model_err)?;
            let style = voice.style_row(u.ids.len().saturating_sub(1));
            let style = candle_core::Tensor::new(style, device).and_then(|t| t.unsqueeze(0)).map_err(model_err)?;
            raw_frames.push(model.raw_durations(&ids, &style)?);
        }
        Ok(SpeechTiming { raw_frames })
    }

    /// Speaks `text` sentence by sentence: each item is the next piece of
    /// marked audio, available as soon as its sentence is synthesized. The
    /// first sentence starts just before its first phoneme (the model's
    /// leading silence is cut to [`LEAD_KEEP_FRAMES`]) and comes in pieces
    /// cut at word boundaries ([`PieceSchedule`]: by default its opening
    /// words, then the rest), all rendered from the whole sentence's
    /// predicted prosody and cross-faded into each other, so that a player
    /// can start after a small fraction of the first sentence's synthesis
    /// time. Every utterance's closing pause, after the predicted energy has
    /// fallen to silence, is streamed as silence rather than rendered; see
    /// [`SpeechStream::schedule`] to change the cuts and
    /// [`SpeechStream::whole_sentences`] to turn them off. Each
    /// piece gets its own ledger entry. Concatenated, the pieces carry the same
    /// watermark as [`Engine::speak`] would have applied to the whole.
    pub fn stream<'a>(&'a self, voice: &'a Voice, text: &str, speed: f32) -> Result<SpeechStream<'a>, EngineError> {
        let lang = self.language_of(voice)?;
        check_speed(speed)?;
        let sentences = self.front.split(text)?;
        Ok(SpeechStream {
            engine: self,
            voice,
            lang,
            speed,
            sentences: sentences.into_iter(),
            pending: Vec::new(),
            marker: Some(Watermarker::new(&self.key, voice.consent().watermark_payload()).into_stream()),
            spoke: false,
            split_first: true,
            live: true,
            schedule: PieceSchedule::default(),
            rest: None,
        })
    }

    fn language_of(&self, voice: &Voice) -> Result<Language, EngineError> {
        let code = voice.consent().language();
        code.parse::<Language>().map_err(|e| EngineError::Invalid(e.to_string()))
    }

    fn synthesize(&self, voice: &Voice, u: &Utterance, speed: f32) -> Result<Vec<f32>, EngineError> {
        Ok(self.synthesize_full(voice, u, speed)?.audio)
    }

    /// The model for `voice` and `u`'s predicted prosody, ready to render
    /// by windows of frames (streams).
    fn prepare(&self, voice: &Voice, u: &Utterance, speed: f32) -> Result<(std::borrow::Cow<'_, KModel>, avow_kokoro::Prepared), EngineError> {
        check_known(u)?;
        let model = self.model_for(voice)?;
        let prepared = model.prepare(&u.ids, voice.style_row(u.ids.len().saturating_sub(1)), speed)?;
        Ok((model, prepared))
    }

    fn synthesize_full(&self, voice: &Voice, u: &Utterance, speed: f32) -> Result<avow_kokoro::Synthesis, EngineError> {
        check_known(u)?;
        // Kokoro picks the style row by phoneme count minus one.
        let style = voice.style_row(u.ids.len().saturating_sub(1));
        Ok(self.model_for(voice)?.synthesize(&u.ids, style, speed)?)
    }

    /// The model with `voice`'s speaker adapter folded in (voice banking), or
    /// the shared base model when the pack has none. Folding copies only the
    /// adapted biases (a few hundred kB), so it is done per call rather than
    /// cached.
    fn model_for(&self, voice: &Voice) -> Result<std::borrow::Cow<'_, KModel>, EngineError> {
        if voice.adapters().is_empty() {
            return Ok(std::borrow::Cow::Borrowed(&self.model));
        }
        let adapter = avow_kokoro::StyleAdapter::from_tensors(voice.adapters())?;
        Ok(std::borrow::Cow::Owned(self.model.adapted(&adapter)?))
    }

    fn record(&self, voice: &Voice, text: &str, marked: &[f32]) -> Result<(), EngineError> {
        let bytes = avow_audio::to_s16le(marked)?;
        let entry = LedgerEntry::for_synthesis(voice.consent(), text, &bytes, Timestamp::now());
        let mut ledger = self.ledger.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        ledger.append(&entry)?;
        Ok(())
    }
}

/// Drops `lead` samples before and `tail` after the speech, fading the
/// new edges so the cut does not click.
fn trim_pads(raw: Vec<f32>, lead: usize, tail: usize) -> Vec<f32> {
    let end = raw.len().saturating_sub(tail).max(lead.min(raw.len()));
    let mut kept = raw[lead.min(raw.len())..end].to_vec();
    let n = kept.len();
    let fade = TRIM_FADE_SAMPLES.min(n / 2);
    for i in 0..fade {
        let g = i as f32 / fade as f32;
        kept[i] *= g;
        kept[n - 1 - i] *= g;
    }
    kept
}

fn check_known(u: &Utterance) -> Result<(), EngineError> {
    if u.unknown.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!(
            "cannot speak symbols the model does not know: {}",
            avow_text::vocab::describe_unknown(&u.unknown)
        )))
    }
}

fn check_tempo(tempo: f32) -> Result<(), EngineError> {
    use avow_audio::stretch::{MAX_TEMPO, MIN_TEMPO};
    if tempo.is_finite() && (MIN_TEMPO..=MAX_TEMPO).contains(&tempo) {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!("tempo {tempo} is outside {MIN_TEMPO}..={MAX_TEMPO}")))
    }
}

/// Cuts a long first utterance after its last clause mark within the first
/// [`FIRST_UTTERANCE_MAX_TOKENS`] tokens, else at the last word boundary
/// there, never leaving fewer than [`FIRST_UTTERANCE_MIN_TOKENS`] on either
/// side. Returns the remainder, or `None` when the utterance goes whole.
fn split_long_first(vocab: &KokoroVocab, u: &mut Utterance) -> Option<Utterance> {
    let (max, min) = (FIRST_UTTERANCE_MAX_TOKENS, FIRST_UTTERANCE_MIN_TOKENS);
    if u.ids.len() < max + min {
        return None;
    }
    let space = vocab.id(' ')?;
    let clause_marks: Vec<u32> = [',', ';', ':', '—'].iter().filter_map(|&c| vocab.id(c)).collect();
    let window = &u.ids[..max];
    let cut = window
        .iter()
        .rposition(|t| clause_marks.contains(t))
        .filter(|&i| i + 1 >= min)
        .map(|i| i + 1)
        .or_else(|| window.iter().rposition(|&t| t == space).filter(|&i| i >= min))?;
    let rest: Vec<u32> = u.ids[cut..].iter().copied().skip_while(|&t| t == space).collect();
    if rest.len() < min {
        return None;
    }
    u.ids.truncate(cut);
    while u.ids.last() == Some(&space) {
        u.ids.pop();
    }
    let tail = Utterance { ids: rest, ..u.clone() };
    u.ends_sentence = false;
    Some(tail)
}

/// Where a stream's first piece starts and, if the utterance is long
/// enough, the frame at which it hands over to the next piece (see
/// [`next_cut`] with at least `opening_frames`). `durations` are per token
/// with the pads, `ids` without.
fn opening_cut(durations: &[u32], ids: &[u32], boundaries: &[u32], opening_frames: usize) -> (usize, Option<usize>) {
    let lead = durations.first().map_or(0, |&d| d as usize);
    let start = lead.saturating_sub(LEAD_KEEP_FRAMES);
    (start, next_cut(durations, ids, boundaries, start, opening_frames))
}

/// The end of a piece that starts at frame `from`: the middle of the first
/// word boundary (a token in `boundaries`) at least `min_frames` after
/// `from`, or `None` when there is none or it would leave fewer than
/// [`OPENING_REST_MIN_FRAMES`] (the piece then runs to the end).
fn next_cut(durations: &[u32], ids: &[u32], boundaries: &[u32], from: usize, min_frames: usize) -> Option<usize> {
    let total: usize = durations.iter().map(|&d| d as usize).sum();
    let mut at = durations.first().map_or(0, |&d| d as usize);
    for (&id, &d) in ids.iter().zip(durations.iter().skip(1)) {
        let d = d as usize;
        if boundaries.contains(&id) {
            let middle = at + d / 2;
            if middle >= from + min_frames {
                return (total >= middle + OPENING_REST_MIN_FRAMES).then_some(middle);
            }
        }
        at += d;
    }
    None
}

/// Splits `piece` at sample `seam`: keeps what comes before the fade that
/// is centred there and returns the fade's samples, which the next piece
/// cross-fades with its own rendering of them.
fn hold_back(piece: &mut Vec<f32>, seam: usize) -> Vec<f32> {
    let half = SEAM_FADE_SAMPLES / 2;
    let held = piece[seam - half..seam + half].to_vec();
    piece.truncate(seam - half);
    held
}

/// The frame from which an utterance's closing pause is streamed as
/// silence: [`TAIL_KEEP_FRAMES`] after the model's predicted energy (two
/// values per frame) has fallen for good below [`SILENT_ENERGY`]. `None`
/// when that would skip nothing worth a render. The energy, not the tokens,
/// says where speech ends: the model often gives the last phoneme a long
/// duration and most of it is silence.
fn silent_tail_from(energy: &[f32]) -> Option<usize> {
    let silent = energy.iter().rev().take_while(|&&e| e < SILENT_ENERGY).count();
    let total = energy.len() / 2;
    let from = (energy.len() - silent).div_ceil(2) + TAIL_KEEP_FRAMES;
    (from + SEAM_CONTEXT_FRAMES < total).then_some(from)
}

/// Renders frames `range` of `prepared` with the model, except that frames
/// from `silent_from` on are not rendered: the audio fades out over the
/// 25 ms before it and is zero after, at the same length.
fn render_with_silent_tail(
    model: &KModel,
    prepared: &avow_kokoro::Prepared,
    range: std::ops::Range<usize>,
    silent_from: Option<usize>,
) -> Result<Vec<f32>, EngineError> {
    let Some(silent) = silent_from.filter(|&s| s >= range.start + SEAM_CONTEXT_FRAMES && s + SEAM_CONTEXT_FRAMES <= range.end) else {
        return Ok(model.render_frames(prepared, range)?);
    };
    let mut audio = model.render_frames(prepared, range.start..silent + SEAM_CONTEXT_FRAMES)?;
    let keep = (silent - range.start) * SAMPLES_PER_FRAME;
    audio.truncate(keep);
    let fade = SEAM_FADE_SAMPLES.min(keep);
    for (i, s) in audio[keep - fade..].iter_mut().enumerate() {
        *s *= 1.0 - (i as f32 + 0.5) / fade as f32;
    }
    audio.resize(range.len() * SAMPLES_PER_FRAME, 0.0);
    Ok(audio)
}

/// Joins `head` (ending in the samples held back at the seam) and `rest`
/// (starting with its own rendering of those samples) with a linear
/// cross-fade. Both are renderings of the same frames, in phase.
fn cross_fade(held: &[f32], rest: &[f32]) -> Vec<f32> {
    let n = held.len().min(rest.len());
    let mut out: Vec<f32> = (0..n)
        .map(|i| {
            let w = (i as f32 + 0.5) / n as f32;
            held[i] * (1.0 - w) + rest[i] * w
        })
        .collect();
    out.extend_from_slice(&rest[n..]);
    out
}

fn check_speed(speed: f32) -> Result<(), EngineError> {
    if speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!("speed {speed} is outside {MIN_SPEED}..={MAX_SPEED}")))
    }
}

/// Checks a language code without loading anything (for early argument checks).
pub fn check_language(code: &str) -> Result<(), EngineError> {
    code.parse::<Language>().map(|_| ()).map_err(|e| EngineError::Invalid(e.to_string()))
}

fn default_ledger_path() -> Result<PathBuf, EngineError> {
    if let Some(p) = std::env::var_os("AVOW_LEDGER") {
        return Ok(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| EngineError::Invalid("no ledger location: set AVOW_LEDGER or HOME".into()))?;
    Ok(base.join("avow").join("ledger.jsonl"))
}

/// Marked audio, sentence by sentence. See [`Engine::stream`].
pub struct SpeechStream<'a> {
    engine: &'a Engine,
    voice: &'a Voice,
    lang: Language,
    speed: f32,
    sentences: std::vec::IntoIter<String>,
    pending: Vec<Utterance>,
    /// One embedding stream across all pieces, so the concatenated output is
    /// marked exactly as [`Engine::speak`] marks the whole; `None` once finished.
    marker: Option<EmbedStream<'static>>,
    spoke: bool,
    /// The first utterance is still to come and gets split after its opening words.
    split_first: bool,
    /// Pieces are for a listener: the first utterance is cut into pieces
    /// and closing pauses are streamed as silence. Off for files
    /// ([`Self::whole_sentences`]), which get exactly [`Engine::speak`]'s audio.
    live: bool,
    /// Where the first utterance is cut.
    schedule: PieceSchedule,
    /// The first utterance's frames after its opening piece, still to render.
    rest: Option<Rest>,
}

/// The part of a stream's first utterance that is still to render.
struct Rest {
    text: String,
    prepared: avow_kokoro::Prepared,
    /// The utterance's tokens, without the pads, to find word boundaries.
    ids: Vec<u32>,
    /// Token ids that end a word (space, clause marks).
    boundaries: Vec<u32>,
    /// First frame of the rest (the middle of a word boundary).
    cut: usize,
    /// Frames in the piece that ended at `cut`; the next holds more.
    previous_frames: usize,
    /// Where the utterance's closing pause is streamed as silence.
    silent_from: Option<usize>,
    /// The previous piece's rendering of the samples around `cut`, to cross-fade.
    held: Vec<f32>,
}

impl SpeechStream<'_> {
    /// Speaks the first sentence whole, with its leading pause, instead of
    /// splitting off its opening words for a faster first piece, and renders
    /// closing pauses instead of streaming them as silence: for files, where
    /// nobody listens to the first piece before the rest arrives, and the
    /// output is then exactly [`Engine::speak`]'s, sentence by sentence.
    pub fn whole_sentences(mut self) -> Self {
        self.split_first = false;
        self.live = false;
        self
    }

    /// Cuts the first sentence by `schedule` instead of
    /// [`PieceSchedule::default`] (a slower machine needs faster growth to
    /// keep ahead of playback).
    pub fn schedule(mut self, schedule: PieceSchedule) -> Self {
        self.schedule = schedule;
        self
    }

    fn next_piece(&mut self) -> Result<Option<(String, Vec<f32>)>, EngineError> {
        if let Some(rest) = self.rest.take() {
            let model = self.engine.model_for(self.voice)?;
            let min_frames = self.schedule.next_min_frames(rest.previous_frames);
            let next = next_cut(rest.prepared.durations(), &rest.ids, &rest.boundaries, rest.cut, min_frames);
            let end = next.map_or(rest.prepared.frames(), |c| c + SEAM_CONTEXT_FRAMES);
            let audio = render_with_silent_tail(&model, &rest.prepared, rest.cut - SEAM_CONTEXT_FRAMES..end, rest.silent_from)?;
            // The piece starts where the held samples do, half a fade before `cut`.
            let seam = SEAM_CONTEXT_FRAMES * SAMPLES_PER_FRAME - rest.held.len() / 2;
            let mut piece = cross_fade(&rest.held, &audio[seam.min(audio.len())..]);
            if let Some(next) = next {
                let held = hold_back(&mut piece, (next - rest.cut) * SAMPLES_PER_FRAME + rest.held.len() / 2);
                let text = rest.text.clone();
                self.rest = Some(Rest { cut: next, previous_frames: next - rest.cut, held, ..rest });
                return Ok(Some((text, piece)));
            }
            return Ok(Some((rest.text, piece)));
        }
        loop {
            if let Some(mut u) = (!self.pending.is_empty()).then(|| self.pending.remove(0)) {
                if std::mem::take(&mut self.split_first) {
                    if let Some(tail) = split_long_first(self.engine.front.vocab(), &mut u) {
                        self.pending.insert(0, tail);
                    }
                    let audio = self.opening(&u)?;
                    return Ok(Some((u.text.clone(), audio)));
                }
                let audio = if self.live { self.whole_utterance(&u)? } else { self.engine.synthesize(self.voice, &u, self.speed)? };
                return Ok(Some((u.text.clone(), audio)));
            }
            match self.sentences.next() {
                Some(sentence) => self.pending = self.engine.front.prepare_sentence(&sentence, self.lang)?,
                None => return Ok(None),
            }
        }
    }
}

impl SpeechStream<'_> {
    fn is_last(&self) -> bool {
        self.rest.is_none() && self.pending.is_empty() && self.sentences.len() == 0
    }

    /// The stream's first piece: the first utterance from just before its
    /// first phoneme, up to the middle of a word boundary after its opening
    /// words if it is long enough to split (the rest is then kept in
    /// [`Self::rest`]). The prosody of the whole utterance is predicted
    /// first, so the pieces join into one sentence rather than two phrases;
    /// only the decoder, most of the cost, runs per piece.
    fn opening(&mut self, u: &Utterance) -> Result<Vec<f32>, EngineError> {
        let (model, prepared) = self.engine.prepare(self.voice, u, self.speed)?;
        let vocab = self.engine.front.vocab();
        let boundaries: Vec<u32> = [' ', ',', ';', ':', '—'].iter().filter_map(|&c| vocab.id(c)).collect();
        let (start, cut) = opening_cut(prepared.durations(), &u.ids, &boundaries, self.schedule.opening_frames);
        let silent_from = silent_tail_from(&prepared.energy()?);
        let Some(cut) = cut else {
            return render_with_silent_tail(&model, &prepared, start..prepared.frames(), silent_from);
        };
        let mut head = model.render_frames(&prepared, start..cut + SEAM_CONTEXT_FRAMES)?;
        let held = hold_back(&mut head, (cut - start) * SAMPLES_PER_FRAME);
        drop(model);
        self.rest = Some(Rest {
            text: u.text.clone(),
            prepared,
            ids: u.ids.clone(),
            boundaries,
            cut,
            previous_frames: cut - start,
            silent_from,
            held,
        });
        Ok(head)
    }

    /// A later utterance, rendered in one piece with its closing pause as silence.
    fn whole_utterance(&self, u: &Utterance) -> Result<Vec<f32>, EngineError> {
        let (model, prepared) = self.engine.prepare(self.voice, u, self.speed)?;
        let silent_from = silent_tail_from(&prepared.energy()?);
        render_with_silent_tail(&model, &prepared, 0..prepared.frames(), silent_from)
    }

    fn next_marked(&mut self) -> Result<Option<Vec<f32>>, EngineError> {
        if self.marker.is_none() {
            return Ok(None);
        }
        let (text, mut marked) = match self.next_piece()? {
            Some((text, raw)) => {
                self.spoke = true;
                let marker = self.marker.as_mut().ok_or_else(|| EngineError::Invalid("stream already finished".into()))?;
                (text, marker.push(&raw)?)
            }
            None if !self.spoke => return Err(avow_text::frontend::TextError::NothingToSpeak.into()),
            // Sentences after the last spoken one had nothing to speak: only
            // the embedder's held-back tail remains.
            None => (String::new(), Vec::new()),
        };
        if self.is_last() {
            if let Some(marker) = self.marker.take() {
                marked.extend(marker.finish());
            }
        }
        if marked.is_empty() && self.marker.is_none() && text.is_empty() {
            return Ok(None);
        }
        self.engine.record(self.voice, &text, &marked)?;
        Ok(Some(marked))
    }
}

impl Iterator for SpeechStream<'_> {
    type Item = Result<Vec<f32>, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_marked() {
            Ok(piece) => piece.map(Ok),
            Err(e) => {
                self.marker = None;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_opens_at_a_word_boundary_and_its_pieces_grow() {
        const SPACE: u32 = 16;
        const COMMA: u32 = 3;
        let boundaries = [SPACE, COMMA];
        // Lead pad 13 frames, then words of 3-frame tokens separated by spaces of 2.
        let ids = [43, 44, 45, 46, SPACE, 43, 44, 45, 46, SPACE, 43, 44, SPACE, 43, 44, 45, 46, 47, 48, 4];
        let mut durations = vec![13u32];
        durations.extend(ids.iter().map(|&t| if t == SPACE { 2 } else { 3 }));
        durations.push(1);
        let (start, cut) = opening_cut(&durations, &ids, &boundaries, 8);
        assert_eq!(start, 13 - LEAD_KEEP_FRAMES, "the leading pad is cut to a few frames");
        // Spaces start at frames 25, 39 and 47 (68 frames in all); the first
        // whose middle is 8 frames past the start (11 + 8 = 19) is the first.
        assert_eq!(cut, Some(26));
        // The next piece holds at least 1.4 times the opening's 15 frames
        // (21, so a middle at 47 or later): the third space.
        let schedule = PieceSchedule { opening_frames: 8, growth: 1.4 };
        assert_eq!(schedule.next_min_frames(15), 21);
        assert_eq!(next_cut(&durations, &ids, &boundaries, 26, 21), Some(48));
        // After that no boundary is far enough: the last piece runs to the end.
        assert_eq!(next_cut(&durations, &ids, &boundaries, 48, 31), None);
        // Too little left after the only qualifying boundary (34 frames in
        // all, a cut at 26 leaves 8): one piece.
        let mut short = durations[..8].to_vec();
        short.push(1);
        assert_eq!(opening_cut(&short, &ids[..7], &boundaries, 8), (11, None));
        // A single word has no boundary: one piece, still without the long lead.
        let (start, cut) = opening_cut(&[13, 4, 4, 4, 4, 18, 12, 1], &[57, 135, 47, 83, 56, 4], &boundaries, 8);
        assert_eq!((start, cut), (11, None));
        // A pad shorter than what is kept is kept whole.
        assert_eq!(opening_cut(&[1, 5, 1], &[43], &boundaries, 8), (0, None));
        // Infinite growth: everything after the opening in one piece; growth
        // below 1 would shrink the pieces and is taken as 1.
        let whole_rest = PieceSchedule { opening_frames: 8, growth: f32::INFINITY };
        assert_eq!(next_cut(&durations, &ids, &boundaries, 26, whole_rest.next_min_frames(15)), None);
        assert_eq!(PieceSchedule { opening_frames: 8, growth: 0.2 }.next_min_frames(15), 15);
    }

    #[test]
    fn a_long_first_sentence_is_cut_at_its_last_clause_in_reach_and_keeps_every_token() {
        let vocab = KokoroVocab::from_json(r#"{"vocab": {",": 3, ".": 4, " ": 16, "a": 43, "b": 44, "c": 45}}"#).unwrap();
        let id = |c: char| vocab.id(c).unwrap();
        let utterance = |phonemes: &str| Utterance {
            text: "t".into(),
            phonemes: phonemes.into(),
            ids: vocab.tokenize(phonemes).ids,
            unknown: Vec::new(),
            ends_sentence: true,
        };
        let words = |n: usize| vec!["abcab"; n].join(" ");
        // Clause marks at tokens 17 and 36 (of 64 in reach): cut after the later one.
        let text = format!("{}, {}, {}.", words(3), words(3), words(12));
        let mut u = utterance(&text);
        let all = u.ids.clone();
        let tail = split_long_first(&vocab, &mut u).expect("long enough to cut");
        assert_eq!(u.ids.len(), 37);
        assert_eq!(u.ids.last(), Some(&id(',')));
        assert!(!u.ends_sentence && tail.ends_sentence, "only the remainder ends the sentence");
        let joined: Vec<u32> = u.ids.iter().chain(std::iter::once(&id(' '))).chain(&tail.ids).copied().collect();
        assert_eq!(joined, all, "no token may be lost or invented at the cut");
        // No clause mark in reach: the last word boundary before the limit.
        let mut u = utterance(&format!("{}.", words(20)));
        let tail = split_long_first(&vocab, &mut u).expect("cut");
        assert!(u.ids.len() <= FIRST_UTTERANCE_MAX_TOKENS && u.ids.len() >= FIRST_UTTERANCE_MIN_TOKENS);
        assert_ne!(u.ids.last(), Some(&id(' ')));
        assert_ne!(tail.ids.first(), Some(&id(' ')));
        // Typical sentences go whole.
        let mut u = utterance(&format!("{}.", words(10)));
        assert!(split_long_first(&vocab, &mut u).is_none());
        assert_eq!(u.ids.len(), 60);
    }

    #[test]
    fn a_closing_pause_is_silent_after_the_energy_falls_and_short_ones_are_rendered() {
        // 20 frames of speech, then 20 of predicted silence (two values per frame).
        let mut energy = vec![7.0f32; 40];
        energy.extend(vec![-9.0f32; 40]);
        assert_eq!(silent_tail_from(&energy), Some(20 + TAIL_KEEP_FRAMES));
        // A dip inside speech is not the end; only the final run counts.
        energy[10] = -9.5;
        assert_eq!(silent_tail_from(&energy), Some(20 + TAIL_KEEP_FRAMES));
        // An odd half-frame of speech keeps its whole frame.
        energy[40] = 6.0;
        assert_eq!(silent_tail_from(&energy), Some(21 + TAIL_KEEP_FRAMES));
        // A pause too short to skip anything worth it is rendered whole.
        let mut short = vec![7.0f32; 40];
        short.extend(vec![-9.0f32; 12]);
        assert_eq!(silent_tail_from(&short), None);
        // Speech to the end: nothing is silent.
        assert_eq!(silent_tail_from(&[7.0; 80]), None);
    }

    #[test]
    fn the_seam_fades_from_the_opening_into_the_rest() {
        let joined = cross_fade(&[1.0; 4], &[0.0, 0.0, 0.0, 0.0, 0.5, 0.5]);
        assert_eq!(joined.len(), 6, "held samples are replaced, not added");
        assert!(joined[..4].windows(2).all(|w| w[0] > w[1]), "weights move from the opening to the rest");
        assert_eq!(&joined[4..], &[0.5, 0.5]);
    }

    #[test]
    fn one_engine_can_serve_several_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Engine>();
    }

    #[test]
    fn timing_rounds_like_the_model() {
        let timing = SpeechTiming { raw_frames: vec![vec![2.5, 0.2, 3.5], vec![5.0]] };
        // 2.5→2, 0.2→1 (at least one), 3.5→4, 5→5: 12 frames.
        assert_eq!(timing.samples_at(1.0), 12 * 600);
        // At 2×: 1.25→1, 0.1→1, 1.75→2, 2.5→2.
        assert_eq!(timing.samples_at(2.0), 6 * 600);
        assert_eq!(timing.samples_with(&SpeakOptions { speed: 2.0, tempo: 1.2, ..SpeakOptions::default() }), 3000);
        // Pads: the first utterance's first token, the last one's last.
        assert_eq!(timing.pad_samples_at(1.0), (2 * 600, 5 * 600));
        assert_eq!(timing.samples_with(&SpeakOptions { trim_pads: true, ..SpeakOptions::default() }), 5 * 600);
        let trimmed = trim_pads(vec![1.0; 1000], 100, 200);
        assert_eq!(trimmed.len(), 700);
        assert_eq!(trimmed[0], 0.0);
        assert_eq!(trimmed[350], 1.0);
        assert!(trim_pads(vec![1.0; 10], 8, 8).len() <= 10, "overlapping trims do not panic");
    }

    #[test]
    fn speed_and_language_are_checked_before_any_work() {
        assert!(check_speed(1.0).is_ok());
        for bad in [0.0, 0.49, 2.51, f32::NAN, f32::INFINITY] {
            assert!(matches!(check_speed(bad), Err(EngineError::Invalid(_))), "{bad}");
        }
        assert!(check_tempo(1.15).is_ok());
        for bad in [0.0, 0.4, 2.1, f32::NAN] {
            assert!(matches!(check_tempo(bad), Err(EngineError::Invalid(_))), "{bad}");
        }
        assert!(check_language("en-us").is_ok());
        assert!(check_language("tlh").is_err());
    }
}
