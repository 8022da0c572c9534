//! Audio I/O and the few DSP helpers that several avow crates share.
//!
//! For: reading WAV (8/16/24/32-bit integer and 32-bit float, any rate and
//! channel count) and FLAC into `f32` samples, downmixing to mono,
//! high-quality sinc resampling (rubato), writing WAV files atomically (a
//! reader never sees a half-written file), and encoding `f32` samples as raw
//! signed 16-bit little-endian bytes for streaming.
//!
//! Also the small DSP pieces dubbing needs: pitch-preserving time
//! stretching ([`stretch`]), EBU R128 loudness ([`loudness`]) and a ducking
//! mixer ([`mix`]). And two measuring tools: dynamic time warping ([`dtw`])
//! and the mel-cepstral distance between two renditions of the same speech
//! ([`cepstrum`]), a likeness check that uses no learned model.
//!
//! Not for: codecs beyond WAV/FLAC, playback, or anything
//! speech-model specific. Everything here works on whole in-memory buffers.
//!
//! Sample convention: `f32` in `[-1.0, 1.0]`, interleaved when there is more
//! than one channel. Non-finite samples (NaN, ±inf) are refused on every
//! boundary (reading float files, writing, encoding) with
//! [`AudioError::NonFinite`], so a corrupt buffer is never silently written.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

pub mod cepstrum;
pub mod dtw;
pub mod mel;
pub mod loudness;
pub mod mix;
pub mod stretch;
pub mod snr;

use rubato::{
    Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

/// Errors from reading, converting, resampling or writing audio.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened, read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error (kept out of the error chain so that it is
        /// printed once).
        reason: std::io::Error,
    },
    /// The bytes are not a WAV or FLAC file this crate understands.
    #[error("malformed audio: {0}")]
    Malformed(String),
    /// A well-formed file in a variant this crate does not decode.
    #[error("unsupported audio format: {0}")]
    Unsupported(String),
    /// The file or buffer holds no samples.
    #[error("audio holds no samples")]
    Empty,
    /// A sample is NaN or infinite.
    #[error("sample {index} is not a finite number")]
    NonFinite {
        /// Index of the first offending sample (interleaved).
        index: usize,
    },
    /// Sample rate, channel count or sample length are not usable.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
}

/// Decoded audio: interleaved `f32` samples plus their layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    /// Interleaved samples, nominally in `[-1, 1]`.
    pub samples: Vec<f32>,
    /// Frames per second.
    pub sample_rate: u32,
    /// Number of interleaved channels (≥ 1).
    pub channels: u16,
}

impl Audio {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate.max(1))
    }

    /// The average of all channels, one value per frame.
    pub fn to_mono(&self) -> Vec<f32> {
        downmix(&self.samples, self.channels)
    }
}

/// Averages interleaved channels into one. A trailing partial frame is dropped.
pub fn downmix(interleaved: &[f32], channels: u16) -> Vec<f32> {
    let c = usize::from(channels.max(1));
    if c == 1 {
        return interleaved.to_vec();
    }
    let scale = 1.0 / c as f32;
    interleaved
        .chunks_exact(c)
        .map(|f| f.iter().sum::<f32>() * scale)
        .collect()
}

/// Refuses samples that are NaN or infinite, naming the first one's index.
pub fn check_finite(samples: &[f32]) -> Result<(), AudioError> {
    match samples.iter().position(|s| !s.is_finite()) {
        Some(index) => Err(AudioError::NonFinite { index }),
        None => Ok(()),
    }
}

fn io_err(path: &Path, source: std::io::Error) -> AudioError {
    AudioError::Io {
        path: path.display().to_string(),
        reason: source,
    }
}

/// Reads a WAV or FLAC file (chosen by its first bytes, not its name).
pub fn read_audio(path: impl AsRef<Path>) -> Result<Audio, AudioError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    read_audio_from(BufReader::new(file)).map_err(|e| match e {
        AudioError::Malformed(m) => AudioError::Malformed(format!("{}: {m}", path.display())),
        AudioError::Unsupported(m) => AudioError::Unsupported(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Reads a WAV or FLAC stream (chosen by its first bytes).
pub fn read_audio_from<R: Read + Seek>(mut reader: R) -> Result<Audio, AudioError> {
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = reader
            .read(&mut magic[got..])
            .map_err(|e| AudioError::Malformed(e.to_string()))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| AudioError::Malformed(e.to_string()))?;
    match &magic[..got] {
        b"RIFF" | b"RIFX" | b"RF64" => read_wav_from(reader),
        b"fLaC" => read_flac_from(reader),
        [] => Err(AudioError::Malformed("file is empty".into())),
        _ => Err(AudioError::Malformed(
            "not a WAV (RIFF) or FLAC file".into(),
        )),
    }
}

/// Reads a WAV file.
pub fn read_wav(path: impl AsRef<Path>) -> Result<Audio, AudioError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    read_wav_from(BufReader::new(file))
}

/// Reads WAV from any reader: 8/16/24/32-bit integer PCM or 32-bit float.
///
/// Also reads a *streamed* WAV, written before its length was known, whose
/// `data` chunk size is `0xFFFFFFFF` or `0` (as `avow serve` and OpenAI's
/// streamed WAV send it): its samples run to the end of the input, and a
/// trailing partial frame (a stream cut mid-sample) is dropped.
pub fn read_wav_from<R: Read>(mut reader: R) -> Result<Audio, AudioError> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .map_err(|e| AudioError::Malformed(format!("truncated or unreadable: {e}")))?;
    size_streamed_data_chunk(&mut bytes)?;
    let wav = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(map_hound)?;
    let spec = wav.spec();
    if spec.channels == 0 {
        return Err(AudioError::Malformed("zero channels".into()));
    }
    if spec.sample_rate == 0 {
        return Err(AudioError::Malformed("zero sample rate".into()));
    }
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => wav
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(map_hound)?,
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            // 8-bit WAV is unsigned on disk; hound already recentres it.
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            wav.into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(map_hound)?
        }
        (fmt, bits) => {
            return Err(AudioError::Unsupported(format!(
                "{bits}-bit {fmt:?} samples"
            )))
        }
    };
    finish(samples, spec.sample_rate, spec.channels)
}

/// The `data` size a streaming writer puts in the header when it does not
/// know the length yet (`0` is the other common placeholder).
const UNKNOWN_CHUNK_SIZE: u32 = u32::MAX;

/// Gives a streamed WAV's `data` chunk (size `0xFFFFFFFF` or `0`) the size
/// of the bytes that follow it, in whole frames, and the RIFF header the
/// matching size; any other file is left as it is. A `data` chunk with a
/// real size that runs past the end stays an error (a truncated file).
fn size_streamed_data_chunk(bytes: &mut [u8]) -> Result<(), AudioError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok(());
    }
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut block_align = 1usize;
    let mut at = 12usize;
    while at + 8 <= bytes.len() {
        let size = le32(bytes, at + 4);
        let body = at + 8;
        match &bytes[at..at + 4] {
            b"fmt " if size >= 14 && body + 14 <= bytes.len() => {
                block_align = usize::from(u16::from_le_bytes([bytes[body + 12], bytes[body + 13]])).max(1);
            }
            b"data" => {
                if size == UNKNOWN_CHUNK_SIZE || size == 0 {
                    let available = bytes.len() - body;
                    let whole = available - available % block_align;
                    let data_size = u32::try_from(whole)
                        .map_err(|_| AudioError::Unsupported(format!("a streamed WAV of {whole} bytes (over 4 GiB)")))?;
                    bytes[at + 4..at + 8].copy_from_slice(&data_size.to_le_bytes());
                    let riff_size = u32::try_from(body + whole - 8).unwrap_or(UNKNOWN_CHUNK_SIZE);
                    bytes[4..8].copy_from_slice(&riff_size.to_le_bytes());
                }
                return Ok(());
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body.saturating_add(size as usize).saturating_add(size as usize & 1);
    }
    Ok(())
}

fn finish(samples: Vec<f32>, sample_rate: u32, channels: u16) -> Result<Audio, AudioError> {
    if samples.len() < usize::from(channels) {
        return Err(AudioError::Empty);
    }
    check_finite(&samples)?;
    Ok(Audio {
        samples,
        sample_rate,
        channels,
    })
}

fn map_hound(e: hound::Error) -> AudioError {
    match e {
        hound::Error::IoError(io) => {
            AudioError::Malformed(format!("truncated or unreadable: {io}"))
        }
        hound::Error::Unsupported => AudioError::Unsupported("WAV variant".into()),
        other => AudioError::Malformed(other.to_string()),
    }
}

/// Reads FLAC from any reader (integer samples of any depth claxon supports).
pub fn read_flac_from<R: Read>(reader: R) -> Result<Audio, AudioError> {
    let mut flac =
        claxon::FlacReader::new(reader).map_err(|e| AudioError::Malformed(e.to_string()))?;
    let info = flac.streaminfo();
    let channels = u16::try_from(info.channels)
        .map_err(|_| AudioError::Unsupported(format!("{} channels", info.channels)))?;
    if channels == 0 || info.sample_rate == 0 || info.bits_per_sample == 0 {
        return Err(AudioError::Malformed("invalid FLAC stream info".into()));
    }
    let scale = 1.0 / (1u64 << (info.bits_per_sample - 1)) as f32;
    let samples: Vec<f32> = flac
        .samples()
        .map(|s| s.map(|v| v as f32 * scale))
        .collect::<Result<_, _>>()
        .map_err(|e| AudioError::Malformed(e.to_string()))?;
    finish(samples, info.sample_rate, channels)
}

/// High-quality sinc resampling of one channel from `from_rate` to `to_rate`.
///
/// The output has `round(len · to_rate / from_rate)` samples and is aligned
/// with the input to within a sample (the filter is centred), so a marked or
/// analysed position maps straight across rates.
pub fn resample(input: &[f32], from_rate: u32, to_rate: u32) -> Result<Vec<f32>, AudioError> {
    if from_rate == 0 || to_rate == 0 {
        return Err(AudioError::InvalidParameter("sample rate 0".into()));
    }
    check_finite(input)?;
    if from_rate == to_rate || input.is_empty() {
        return Ok(input.to_vec());
    }
    let ratio = f64::from(to_rate) / f64::from(from_rate);
    if !(1.0 / 64.0..=64.0).contains(&ratio) {
        return Err(AudioError::InvalidParameter(format!(
            "resampling ratio {from_rate}→{to_rate} Hz is out of range"
        )));
    }
    let want = (input.len() as f64 * ratio).round() as usize;
    let params = SincInterpolationParameters {
        sinc_len: 128,
        f_cutoff: 0.95,
        interpolation: SincInterpolationType::Cubic,
        oversampling_factor: 128,
        window: WindowFunction::BlackmanHarris2,
    };
    let chunk = 4096;
    let mut rs = SincFixedIn::<f32>::new(ratio, 1.0, params, chunk, 1)
        .map_err(|e| AudioError::InvalidParameter(e.to_string()))?;
    // rubato 0.16's SincFixedIn already centres its filter (measured with an
    // impulse; `output_delay()` reports the filter half-length, but trimming
    // it would shift the output early), so nothing is trimmed here; the
    // alignment test guards this against a rubato upgrade.
    let delay = 0usize;
    let mut out: Vec<f32> = Vec::with_capacity(want + delay + chunk);
    let mut pos = 0;
    let rerr = |e: rubato::ResampleError| AudioError::InvalidParameter(e.to_string());
    while pos + chunk <= input.len() {
        let o = rs
            .process(&[&input[pos..pos + chunk]], None)
            .map_err(rerr)?;
        out.extend_from_slice(&o[0]);
        pos += chunk;
    }
    if pos < input.len() {
        let o = rs
            .process_partial(Some(&[&input[pos..]]), None)
            .map_err(rerr)?;
        out.extend_from_slice(&o[0]);
    }
    // Flush the filter tail so the last input samples reach the output.
    while out.len() < want + delay {
        let o = rs.process_partial::<&[f32]>(None, None).map_err(rerr)?;
        if o[0].is_empty() {
            break;
        }
        out.extend_from_slice(&o[0]);
    }
    let mut out = out.split_off(delay.min(out.len()));
    out.resize(want, 0.0);
    Ok(out)
}

/// Sample encoding of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// 16-bit signed integer PCM (values are clipped to `[-1, 1]` and rounded).
    Pcm16,
    /// 32-bit IEEE float, written as is.
    Float32,
}

/// Writes mono samples as a WAV file, atomically.
///
/// The data goes to a temporary file in the destination's directory, is
/// flushed and fsync'd, and only then renamed over `path`; on any error no
/// file (partial or otherwise) is left at `path`.
pub fn write_wav(
    path: impl AsRef<Path>,
    samples: &[f32],
    sample_rate: u32,
    format: WavFormat,
) -> Result<(), AudioError> {
    write_wav_channels(path, samples, sample_rate, 1, format)
}

/// Like [`write_wav`] for interleaved multi-channel samples.
pub fn write_wav_channels(
    path: impl AsRef<Path>,
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
    format: WavFormat,
) -> Result<(), AudioError> {
    let path = path.as_ref();
    if sample_rate == 0 || channels == 0 {
        return Err(AudioError::InvalidParameter(
            "sample rate and channel count must be positive".into(),
        ));
    }
    if !samples.len().is_multiple_of(usize::from(channels)) {
        return Err(AudioError::InvalidParameter(
            "sample count is not a multiple of the channel count".into(),
        ));
    }
    check_finite(samples)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".avow-wav-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| io_err(dir, e))?;
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: match format {
            WavFormat::Pcm16 => 16,
            WavFormat::Float32 => 32,
        },
        sample_format: match format {
            WavFormat::Pcm16 => hound::SampleFormat::Int,
            WavFormat::Float32 => hound::SampleFormat::Float,
        },
    };
    let werr = |e: hound::Error| match e {
        hound::Error::IoError(io) => io_err(path, io),
        other => AudioError::InvalidParameter(other.to_string()),
    };
    {
        let file = tmp.as_file().try_clone().map_err(|e| io_err(path, e))?;
        let mut w = hound::WavWriter::new(BufWriter::new(file), spec).map_err(werr)?;
        match format {
            WavFormat::Pcm16 => {
                for &s in samples {
                    w.write_sample(f32_to_i16(s)).map_err(werr)?;
                }
            }
            WavFormat::Float32 => {
                for &s in samples {
                    w.write_sample(s).map_err(werr)?;
                }
            }
        }
        w.finalize().map_err(werr)?;
    }
    tmp.as_file().sync_all().map_err(|e| io_err(path, e))?;
    tmp.persist(path).map_err(|e| io_err(path, e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Converts one sample to 16-bit PCM, clipping to full scale.
///
/// The scale is 32768 (the inverse of how every reader here decodes), so
/// a round trip is exact to half a step; `+1.0` clips to 32767.
pub fn f32_to_i16(s: f32) -> i16 {
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Encodes samples as raw signed 16-bit little-endian PCM (clipped).
pub fn to_s16le(samples: &[f32]) -> Result<Vec<u8>, AudioError> {
    check_finite(samples)?;
    let mut out = Vec::with_capacity(samples.len() * 2);
    for &s in samples {
        out.extend_from_slice(&f32_to_i16(s).to_le_bytes());
    }
    Ok(out)
}

/// Writes raw s16le PCM for `samples` to `w` (for streaming to stdout/pipes).
pub fn write_s16le<W: Write>(mut w: W, samples: &[f32]) -> Result<(), AudioError> {
    let bytes = to_s16le(samples)?;
    w.write_all(&bytes)
        .map_err(|e| io_err(Path::new("<stream>"), e))
}
