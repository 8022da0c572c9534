//! Greedy transcription: audio → 30 s log-mel windows → encoder → decoder,
//! one argmax token at a time.
//!
//! Decoding follows faster-whisper / CTranslate2 with `beam_size=1`,
//! temperature 0 and `without_timestamps`: the prompt is
//! `<|startoftranscript|><|notimestamps|>` (tiny.en has no language or task
//! tokens), the model's `suppress_ids` plus the task tokens are never
//! generated, space and end-of-text are not allowed first, decoding stops at
//! end-of-text or after 224 tokens (half the text context). Windows are
//! decoded independently (no previous-text prompt), so one bad window cannot
//! derail the next.

use std::io::IsTerminal;
use std::path::Path;

use candle_core::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cache::{AsrCache, AsrConfig, AsrFiles};
use crate::mel::{MelFrontEnd, SAMPLE_RATE, WINDOW_FRAMES};
use crate::model::Whisper;
use crate::tokenizer::Vocabulary;
use crate::AsrError;

/// A transcript.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transcript {
    /// The text, trimmed.
    pub text: String,
    /// Generated token ids, all windows in order (end-of-text excluded).
    pub tokens: Vec<u32>,
    /// Duration of the audio in seconds.
    pub seconds: f64,
}

/// Whisper tiny.en, loaded and ready.
pub struct Transcriber {
    model: Whisper,
    vocab: Vocabulary,
    mel: MelFrontEnd,
    disabled: Vec<bool>,
    disabled_first: Vec<u32>,
    max_new_tokens: usize,
    device: Device,
}

impl std::fmt::Debug for Transcriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcriber").field("config", &self.model.config).finish()
    }
}

/// Reads any WAV or FLAC file as 16 kHz mono.
pub fn read_audio_16k(path: &Path) -> Result<Vec<f32>, AsrError> {
    let audio = avow_audio::read_audio(path).map_err(|cause| AsrError::Audio { path: path.to_path_buf(), cause })?;
    let mono = audio.to_mono();
    if audio.sample_rate == SAMPLE_RATE {
        return Ok(mono);
    }
    avow_audio::resample(&mono, audio.sample_rate, SAMPLE_RATE).map_err(|cause| AsrError::Audio { path: path.to_path_buf(), cause })
}

impl Transcriber {
    /// Loads the model from the default cache, converting it first if needed.
    pub fn open_default(progress: bool) -> Result<Self, AsrError> {
        let files = AsrCache::default_location()?.ensure(progress)?;
        Self::load(&files)
    }

    /// Loads converted model files.
    pub fn load(files: &AsrFiles) -> Result<Self, AsrError> {
        let read = |p: &Path| std::fs::read(p).map_err(|cause| AsrError::Io { action: "read", path: p.to_path_buf(), cause });
        let config: AsrConfig = serde_json::from_slice(&read(&files.config)?)
            .map_err(|e| AsrError::Cache(format!("{}: {e}", files.config.display())))?;
        config.model.validate().map_err(|e| AsrError::Cache(format!("{}: {e}", files.config.display())))?;
        let vocab_text = String::from_utf8(read(&files.vocab)?)
            .map_err(|_| AsrError::Cache(format!("{} is not UTF-8", files.vocab.display())))?;
        let vocab = Vocabulary::from_lines(&vocab_text)?;
        let device = Device::Cpu;
        let model = Whisper::from_safetensors(read(&files.weights)?, config.model.clone(), &device)?;
        let s = vocab.special();
        let mut disabled = vec![false; config.model.vocab_size];
        let task_tokens = [s.transcribe, s.translate, s.sot, s.sot_prev, s.sot_lm, s.no_speech];
        for &id in config.suppress_ids.iter().chain(&task_tokens) {
            if let Some(d) = disabled.get_mut(id as usize) {
                *d = true;
            }
        }
        Ok(Self {
            max_new_tokens: config.model.text_ctx / 2,
            model,
            vocab,
            mel: MelFrontEnd::new(config.model.n_mels),
            disabled,
            disabled_first: config.suppress_ids_begin,
            device,
        })
    }

    /// The vocabulary (to decode tokens).
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocab
    }

    /// Transcribes a WAV or FLAC file (any rate, any channel count).
    pub fn transcribe_file(&self, path: &Path) -> Result<Transcript, AsrError> {
        self.transcribe(&read_audio_16k(path)?)
    }

    /// Transcribes 16 kHz mono audio; audio longer than 30 s is decoded in
    /// consecutive 30 s windows.
    pub fn transcribe(&self, samples: &[f32]) -> Result<Transcript, AsrError> {
        self.transcribe_with_progress(samples, false)
    }

    /// [`Transcriber::transcribe`], with a progress bar over the windows
    /// when `progress` is set and stderr is a terminal.
    pub fn transcribe_with_progress(&self, samples: &[f32], progress: bool) -> Result<Transcript, AsrError> {
        if let Some(i) = samples.iter().position(|s| !s.is_finite()) {
            return Err(AsrError::BadAudio(format!("sample {i} is not a finite number")));
        }
        let mel = self.mel.compute(samples);
        // The last frame only exists because of the analysis padding.
        let content = mel.frames.saturating_sub(1);
        let windows = content.div_ceil(WINDOW_FRAMES);
        let bar = if progress && windows > 1 && std::io::stderr().is_terminal() {
            let pb = ProgressBar::new(windows as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} windows {elapsed}") {
                pb.set_style(style);
            }
            pb
        } else {
            ProgressBar::hidden()
        };
        let mut tokens = Vec::new();
        let mut text = String::new();
        let mut seek = 0;
        while seek < content {
            let len = WINDOW_FRAMES.min(content - seek);
            let window = mel.window(seek, len, WINDOW_FRAMES);
            let ids = self.decode_window(&window.data, window.bands)?;
            text.push_str(&self.vocab.decode(&ids));
            tokens.extend(ids);
            seek += len;
            bar.inc(1);
        }
        bar.finish_and_clear();
        Ok(Transcript { text: text.trim().to_string(), tokens, seconds: samples.len() as f64 / f64::from(SAMPLE_RATE) })
    }

    fn decode_window(&self, mel: &[f32], bands: usize) -> Result<Vec<u32>, AsrError> {
        let input = Tensor::from_slice(mel, (bands, WINDOW_FRAMES), &self.device)?;
        let audio = self.model.encode(&input)?;
        let s = self.vocab.special();
        let mut state = self.model.decoder.start(&audio)?;
        let mut logits = self.model.decoder.step(&mut state, &[s.sot, s.no_timestamps])?;
        let mut out = Vec::new();
        let mut first_disabled = self.disabled.clone();
        for &id in &self.disabled_first {
            if let Some(d) = first_disabled.get_mut(id as usize) {
                *d = true;
            }
        }
        for step in 0..self.max_new_tokens {
            let mask = if step == 0 { &first_disabled } else { &self.disabled };
            let Some(next) = Whisper::argmax_allowed(&logits, mask)? else { break };
            if next == s.eot {
                break;
            }
            out.push(next);
            if step + 1 == self.max_new_tokens {
                break;
            }
            logits = self.model.decoder.step(&mut state, &[next])?;
        }
        Ok(out)
    }
}
