//! Fits a speaker adapter to aligned recordings.
//!
//! What is trained: the bias offsets of the decoder's style affine layers
//! (timbre) and of the prosody predictor's duration encoder and F0 blocks
//! (rhythm and pitch). The energy blocks are left alone: a recording gives
//! no target for Kokoro's learned energy scale, so the predictor's energy is
//! instead held near where it started.
//!
//! One step takes one training recording and
//! - renders a random crop of `crop_frames` frames through the decoder from
//!   the recording's aligned text, its own F0 and the predictor's energy, and
//!   scores it against the same crop of the recording
//!   ([`ReconstructionLoss`](crate::loss::ReconstructionLoss));
//! - runs the predictor at the recording's durations and scores its
//!   durations (L1, relative to the mean duration) and its F0 on the
//!   recording's voiced frames (L1 of log F0).
//!
//! With a [`SpeakerGuide`], the rendered crop is also embedded by the GE2E
//! speaker encoder and pulled toward the speaker's embedding (cosine): the
//! spectral losses alone fit each crop's envelope but can drift away from
//! what makes the voice recognisably the speaker's over a whole sentence.
//!
//! Every `validate_every` steps the same losses on held-out recordings (fixed
//! middle crops) decide which adapter is kept.

use avow_clone::Downsample24To16;
use avow_kokoro::{KModel, StyleAdapter};
use avow_speaker::SpeakerEncoder;
use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use crate::align::{AlignedRecording, FRAME};
use crate::loss::ReconstructionLoss;
use crate::BankError;

/// Width of a style vector.
const STYLE_DIM: usize = 256;
/// Rows of a style table.
const STYLE_ROWS: usize = 510;

/// Training settings.
#[derive(Debug, Clone)]
pub struct AdaptConfig {
    /// Optimizer steps (one recording each).
    pub steps: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Frames per decoder crop (one frame is 25 ms).
    pub crop_frames: usize,
    /// Validate (and possibly keep the adapter) every this many steps.
    pub validate_every: usize,
    /// Weight of the F0 loss (log-F0 L1).
    pub f0_weight: f64,
    /// Weight of the duration loss.
    pub duration_weight: f64,
    /// Weight of the term holding the predictor's energy where it started.
    pub energy_weight: f64,
    /// Weight of the speaker term (1 − cosine to the [`SpeakerGuide`]'s
    /// embedding); unused without a guide.
    pub speaker_weight: f64,
    /// Seed for the order of recordings and the crops.
    pub seed: u64,
}

impl Default for AdaptConfig {
    fn default() -> Self {
        Self {
            steps: 150,
            learning_rate: 3e-3,
            crop_frames: 32,
            validate_every: 25,
            f0_weight: 1.0,
            duration_weight: 0.5,
            energy_weight: 0.2,
            speaker_weight: 1.0,
            seed: 1,
        }
    }
}

/// The speaker the adapted voice should sound like, as the GE2E speaker
/// encoder hears it: typically the centroid of the enrollment recordings.
pub struct SpeakerGuide<'a> {
    /// The encoder whose differentiable path scores the rendered crops.
    pub encoder: &'a SpeakerEncoder,
    /// The target embedding ([`avow_speaker::EMBEDDING_DIM`] values; normalized here).
    pub embedding: &'a [f32],
}

/// The speaker term's fixed parts.
struct SpeakerTerm<'a> {
    encoder: &'a SpeakerEncoder,
    target: Tensor,
    down: Downsample24To16,
}

/// After each step.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Step number (1-based, continuing after a resume).
    pub step: usize,
    /// This step's training loss.
    pub train_loss: f32,
    /// Held-out loss, on validation steps.
    pub validation_loss: Option<f32>,
    /// The adapter as of this step, on validation steps (a checkpoint).
    pub checkpoint: Option<StyleAdapter>,
}

/// The result of training.
#[derive(Debug, Clone)]
pub struct Adaptation {
    /// The adapter with the best held-out loss (the last one without held-out data).
    pub adapter: StyleAdapter,
    /// Step the adapter comes from (0: the starting adapter was best).
    pub best_step: usize,
    /// Its held-out loss, when there was held-out data.
    pub best_validation: Option<f32>,
    /// Held-out loss of the starting point.
    pub start_validation: Option<f32>,
    /// Every step's report.
    pub history: Vec<StepReport>,
}

/// What the trained layers are: the decoder and the predictor's duration
/// encoder and F0 blocks.
fn is_trained(layer: &str) -> bool {
    layer.starts_with("decoder.") || layer.starts_with("predictor.text_encoder.") || layer.starts_with("predictor.F0.")
}

/// One recording with what the step needs precomputed.
struct Example<'a> {
    rec: &'a AlignedRecording,
    ids: Tensor,
    style: Tensor,
    /// Text features over frames `[1, 512, F]` (the text encoder is not trained).
    asr: Tensor,
    /// The starting predictor's energy at the recording's durations `[1, 2F]`.
    energy: Tensor,
    /// Voiced F0 frame indices and their log F0.
    voiced: Option<(Tensor, Tensor)>,
    /// Durations without the pads, and their mean.
    durations: Tensor,
    mean_duration: f64,
}

impl<'a> Example<'a> {
    fn new(start: &KModel, table: &[f32], rec: &'a AlignedRecording) -> Result<Self, BankError> {
        let device = start.device();
        let tokens = rec.ids.len().saturating_sub(2);
        if tokens == 0 || rec.durations.len() != rec.ids.len() || rec.audio.len() != rec.frames() * FRAME || rec.f0.len() != 2 * rec.frames() {
            return Err(BankError::Input("an aligned recording is inconsistent".into()));
        }
        let row = (tokens - 1).min(STYLE_ROWS - 1);
        let style = Tensor::new(&table[row * STYLE_DIM..(row + 1) * STYLE_DIM], device)?.unsqueeze(0)?;
        let ids = Tensor::new(rec.ids.as_slice(), device)?.unsqueeze(0)?;
        let asr = start.aligned_text(&ids, &rec.durations)?.detach();
        let energy = start.predict_prosody(&ids, &style, &rec.durations)?.energy.detach();
        let voiced_idx: Vec<u32> = rec.f0.iter().enumerate().filter(|(_, &f)| f > 0.0).map(|(i, _)| i as u32).collect();
        let voiced = if voiced_idx.len() >= 10 {
            let logs: Vec<f32> = voiced_idx.iter().map(|&i| rec.f0[i as usize].ln()).collect();
            Some((Tensor::new(voiced_idx.as_slice(), device)?, Tensor::new(logs.as_slice(), device)?))
        } else {
            None
        };
        let inner: Vec<f32> = rec.durations[1..rec.durations.len() - 1].iter().map(|&d| d as f32).collect();
        let mean_duration = inner.iter().sum::<f32>() as f64 / inner.len() as f64;
        Ok(Self { rec, ids, style, asr, energy, voiced, durations: Tensor::new(inner.as_slice(), device)?, mean_duration })
    }

    /// The step's loss with `model` for the decoder crop starting at frame `at`.
    fn loss(&self, model: &KModel, recon: &ReconstructionLoss, speaker: Option<&SpeakerTerm>, config: &AdaptConfig, at: usize) -> Result<Tensor, BankError> {
        let frames = self.rec.frames();
        let width = config.crop_frames.min(frames);
        let at = at.min(frames - width);
        let device = model.device();
        let f0 = Tensor::new(&self.rec.f0[2 * at..2 * (at + width)], device)?.unsqueeze(0)?;
        let audio = model.decode(&self.asr.narrow(2, at, width)?, &f0, &self.energy.narrow(1, 2 * at, 2 * width)?, &self.style)?;
        let target = Tensor::new(&self.rec.audio[at * FRAME..(at + width) * FRAME], device)?;
        let mut total = recon.forward(&audio, &target)?;
        if let Some(term) = speaker {
            let embedding = term.encoder.embed_tensor(&term.down.forward(&audio.flatten_all()?)?)?;
            let cosine = (embedding * &term.target)?.sum_all()?;
            total = (total + ((1.0 - cosine)? * config.speaker_weight)?)?;
        }

        let prosody = model.predict_prosody(&self.ids, &self.style, &self.rec.durations)?;
        let inner = prosody.durations.narrow(0, 1, self.rec.ids.len() - 2)?;
        let duration = ((inner - &self.durations)?.abs()?.mean_all()? / self.mean_duration)?;
        total = (total + (duration * config.duration_weight)?)?;
        if let Some((index, log_f0)) = &self.voiced {
            let predicted = prosody.f0.squeeze(0)?.index_select(index, 0)?.clamp(20f32, 1000f32)?.log()?;
            let f0_loss = (predicted - log_f0)?.abs()?.mean_all()?;
            total = (total + (f0_loss * config.f0_weight)?)?;
        }
        let energy = (prosody.energy - &self.energy)?.abs()?.mean_all()?;
        Ok((total + (energy * config.energy_weight)?)?)
    }
}

/// A small deterministic generator for the order and the crops.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Trains an adapter for `model` speaking with style table `table`
/// (`510 × 256` values) on `train`, validating on `held_out`. `resume`
/// continues from a checkpoint adapter at step `resume_step`. `guide`, when
/// given, adds the speaker term to the training and held-out losses.
#[allow(clippy::too_many_arguments)]
pub fn adapt(
    model: &KModel,
    table: &[f32],
    train: &[AlignedRecording],
    held_out: &[AlignedRecording],
    config: &AdaptConfig,
    guide: Option<&SpeakerGuide>,
    resume: Option<(&StyleAdapter, usize)>,
    mut on_step: impl FnMut(&StepReport),
) -> Result<Adaptation, BankError> {
    if train.is_empty() {
        return Err(BankError::Input("no training recordings".into()));
    }
    if table.len() != STYLE_ROWS * STYLE_DIM {
        return Err(BankError::Input(format!("style table of {} values, expected {}", table.len(), STYLE_ROWS * STYLE_DIM)));
    }
    if config.crop_frames < 4 || config.validate_every == 0 {
        return Err(BankError::Input("crop_frames must be at least 4 and validate_every at least 1".into()));
    }
    let recon = ReconstructionLoss::new(model.device())?;
    let speaker = match guide.filter(|_| config.speaker_weight > 0.0) {
        Some(g) => {
            let norm = g.embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
            if g.embedding.len() != avow_speaker::EMBEDDING_DIM || !norm.is_finite() || norm == 0.0 {
                return Err(BankError::Input(format!(
                    "the speaker embedding must be {} finite values, not all zero (got {})",
                    avow_speaker::EMBEDDING_DIM,
                    g.embedding.len()
                )));
            }
            // Unit norm, so that the term is 1 − cosine whatever the caller passed.
            let target = (Tensor::new(g.embedding, model.device())? / norm as f64)?;
            Some(SpeakerTerm { encoder: g.encoder, target, down: Downsample24To16::new(model.device())? })
        }
        None => None,
    };
    if let Some(short) = train.iter().chain(held_out).find(|r| r.audio.len().min(config.crop_frames * FRAME) < recon.min_samples()) {
        return Err(BankError::Input(format!("a recording of {:.2} s is too short to train on", short.secs())));
    }
    let (start_adapter, start_step) = match resume {
        Some((a, s)) => (a.clone(), s),
        None => (StyleAdapter::default(), 0),
    };
    let start = model.adapted(&start_adapter)?;
    let train_ex = train.iter().map(|r| Example::new(&start, table, r)).collect::<Result<Vec<_>, _>>()?;
    let held_ex = held_out.iter().map(|r| Example::new(&start, table, r)).collect::<Result<Vec<_>, _>>()?;

    // The base model's biases, to express the trained ones as offsets.
    let mut base = Vec::new();
    model.clone().visit_style_affines(&mut |name, layer| {
        if is_trained(name) {
            if let Some(b) = layer.bias() {
                base.push((name.to_string(), b.to_vec1::<f32>()?));
            }
        }
        Ok(())
    })?;
    let mut trainable = start.clone();
    let mut vars: Vec<Var> = Vec::new();
    trainable.visit_style_affines(&mut |name, layer| {
        if is_trained(name) {
            if let Some(b) = layer.bias() {
                let var = Var::from_tensor(b)?;
                layer.set_bias(var.as_tensor().clone())?;
                vars.push(var);
            }
        }
        Ok(())
    })?;
    // Layers outside the trained set keep whatever the resumed adapter says.
    let frozen: Vec<(String, Vec<f32>)> = {
        let trained: std::collections::HashSet<&str> = base.iter().map(|(n, _)| n.as_str()).collect();
        start_adapter
            .to_tensors()
            .into_iter()
            .filter_map(|(name, _, values)| {
                let layer = name.strip_prefix(avow_kokoro::adapter::TENSOR_PREFIX)?.strip_suffix(".bias")?.to_string();
                (!trained.contains(layer.as_str())).then_some((layer, values))
            })
            .collect()
    };
    let snapshot = |vars: &[Var]| -> Result<StyleAdapter, BankError> {
        let mut offsets = frozen.clone();
        for ((name, b), var) in base.iter().zip(vars) {
            let now: Vec<f32> = var.as_tensor().to_vec1()?;
            offsets.push((name.clone(), now.iter().zip(b).map(|(n, b)| n - b).collect()));
        }
        Ok(StyleAdapter::from_offsets(offsets))
    };
    let validate = |m: &KModel| -> Result<Option<f32>, BankError> {
        if held_ex.is_empty() {
            return Ok(None);
        }
        let mut sum = 0f32;
        for ex in &held_ex {
            let middle = ex.rec.frames().saturating_sub(config.crop_frames) / 2;
            sum += ex.loss(m, &recon, speaker.as_ref(), config, middle)?.to_scalar::<f32>()?;
        }
        Ok(Some(sum / held_ex.len() as f32))
    };

    let mut opt = AdamW::new(vars.clone(), ParamsAdamW { lr: config.learning_rate, weight_decay: 0.0, ..Default::default() })?;
    let start_validation = validate(&trainable)?;
    let mut best = (start_adapter.clone(), start_step, start_validation);
    let mut rng = SplitMix(config.seed ^ (start_step as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut order: Vec<usize> = (0..train_ex.len()).collect();
    let mut history = Vec::new();
    for step in start_step + 1..=config.steps {
        let slot = (step - 1) % order.len();
        if slot == 0 {
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
        }
        let ex = &train_ex[order[slot]];
        let at = rng.below(ex.rec.frames().saturating_sub(config.crop_frames) + 1);
        let loss = ex.loss(&trainable, &recon, speaker.as_ref(), config, at)?;
        let train_loss = loss.to_scalar::<f32>()?;
        if !train_loss.is_finite() {
            return Err(BankError::Input(format!("training diverged at step {step} (loss {train_loss})")));
        }
        opt.backward_step(&loss)?;
        let mut report = StepReport { step, train_loss, validation_loss: None, checkpoint: None };
        if step % config.validate_every == 0 || step == config.steps {
            let adapter = snapshot(&vars)?;
            let v = validate(&trainable)?;
            let better = match (v, best.2) {
                (Some(v), Some(b)) => v < b,
                _ => true,
            };
            if better {
                best = (adapter.clone(), step, v);
            }
            report.validation_loss = v;
            report.checkpoint = Some(adapter);
        }
        on_step(&report);
        history.push(report);
    }
    if history.is_empty() {
        // Resumed at or past the last step: the checkpoint is the result.
        best = (start_adapter, start_step, start_validation);
    }
    Ok(Adaptation { adapter: best.0, best_step: best.1, best_validation: best.2, start_validation, history })
}

