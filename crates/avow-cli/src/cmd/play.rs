//! `avow say --play`: speech on the default output device as it streams,
//! sentence by sentence (cargo feature `audio-device`, through cpal/ALSA).
//!
//! The device is opened before the model loads, so a machine without sound
//! fails in milliseconds rather than after seconds of loading. Synthesized
//! sentences go into a queue the audio callback drains; the callback plays
//! silence while the next sentence is still being synthesized, and the
//! queue is bounded so a long text never holds more than a few seconds of
//! audio ahead of the speaker.

use avow_engine::EngineError;

/// Builds without the feature say how to get it.
#[cfg(not(feature = "audio-device"))]
pub struct Player(());

#[cfg(not(feature = "audio-device"))]
impl Player {
    /// Always fails: this build has no audio output.
    pub fn open(_sample_rate: u32) -> anyhow::Result<Self> {
        anyhow::bail!(
            "this avow was built without audio playback; rebuild it with \
             `cargo build --release -p avow-cli --features audio-device` (needs the ALSA headers: \
             apt-get install libasound2-dev), or write a file with --out and play that"
        )
    }

    /// Unreachable: [`Player::open`] never succeeds without the feature.
    pub fn speak(self, _pieces: impl Iterator<Item = Result<Vec<f32>, EngineError>>) -> anyhow::Result<()> {
        anyhow::bail!("audio playback is not built in")
    }
}

#[cfg(feature = "audio-device")]
pub use device::Player;

#[cfg(feature = "audio-device")]
mod device {
    use std::collections::VecDeque;
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    use std::time::Duration;

    use anyhow::{bail, Context};
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

    use super::EngineError;

    /// Most audio queued ahead of the speaker, in seconds.
    const QUEUE_SECONDS: usize = 10;

    #[derive(Default)]
    struct Queue {
        samples: VecDeque<f32>,
        /// First error the device reported.
        error: Option<String>,
    }

    struct Shared {
        queue: Mutex<Queue>,
        /// Signalled by the callback whenever it took samples.
        drained: Condvar,
    }

    impl Shared {
        fn lock(&self) -> MutexGuard<'_, Queue> {
            // A panic elsewhere while holding the lock leaves plain data behind.
            self.queue.lock().unwrap_or_else(|p| p.into_inner())
        }
    }

    /// An open output stream fed from a queue of mono samples at the device rate.
    pub struct Player {
        shared: Arc<Shared>,
        source_rate: u32,
        device_rate: u32,
        // Dropping the stream stops playback; kept until everything is heard.
        _stream: cpal::Stream,
    }

    impl Player {
        /// Opens the default output device for mono audio at `sample_rate`
        /// (resampled when the device does not take that rate).
        pub fn open(sample_rate: u32) -> anyhow::Result<Self> {
            let host = cpal::default_host();
            let device = host
                .default_output_device()
                .context("no default audio output device (is a sound card or sound server available?)")?;
            let config = choose_config(&device, sample_rate)?;
            let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), drained: Condvar::new() });
            let stream_config: StreamConfig = config.config();
            let stream = match config.sample_format() {
                SampleFormat::F32 => build::<f32>(&device, &stream_config, &shared),
                SampleFormat::I16 => build::<i16>(&device, &stream_config, &shared),
                SampleFormat::I32 => build::<i32>(&device, &stream_config, &shared),
                SampleFormat::U16 => build::<u16>(&device, &stream_config, &shared),
                SampleFormat::U8 => build::<u8>(&device, &stream_config, &shared),
                SampleFormat::F64 => build::<f64>(&device, &stream_config, &shared),
                other => bail!("the audio device wants {other} samples, which avow cannot produce"),
            }?;
            stream.play().context("cannot start audio playback")?;
            Ok(Self { shared, source_rate: sample_rate, device_rate: stream_config.sample_rate, _stream: stream })
        }

        /// Plays each piece as soon as it arrives and returns once all of it
        /// has been handed to the device.
        pub fn speak(self, pieces: impl Iterator<Item = Result<Vec<f32>, EngineError>>) -> anyhow::Result<()> {
            let limit = QUEUE_SECONDS * self.device_rate as usize;
            for piece in pieces {
                let piece = piece?;
                let samples = if self.device_rate == self.source_rate {
                    piece
                } else {
                    avow_audio::resample(&piece, self.source_rate, self.device_rate)?
                };
                for chunk in samples.chunks(self.device_rate as usize / 10 + 1) {
                    let mut queue = self.wait_while(|q| q.samples.len() + chunk.len() > limit)?;
                    queue.samples.extend(chunk);
                }
            }
            drop(self.wait_while(|q| !q.samples.is_empty())?);
            // What the callback took is still in the device's buffer.
            std::thread::sleep(Duration::from_millis(250));
            Ok(())
        }

        /// Waits until `busy` is false (or the device failed), returning the lock.
        fn wait_while(&self, busy: impl Fn(&Queue) -> bool) -> anyhow::Result<MutexGuard<'_, Queue>> {
            let mut queue = self.shared.lock();
            loop {
                if let Some(e) = &queue.error {
                    bail!("audio playback failed: {e}");
                }
                if !busy(&queue) {
                    return Ok(queue);
                }
                // The timeout re-checks for a device that stopped calling back.
                let (q, timeout) = self
                    .shared
                    .drained
                    .wait_timeout(queue, Duration::from_secs(5))
                    .unwrap_or_else(|p| p.into_inner());
                queue = q;
                if timeout.timed_out() && busy(&queue) && queue.error.is_none() {
                    bail!("the audio device stopped taking samples");
                }
            }
        }
    }

    /// Prefers a configuration at the model's rate (no resampling) with the
    /// fewest channels; otherwise the device's default.
    fn choose_config(device: &cpal::Device, rate: u32) -> anyhow::Result<cpal::SupportedStreamConfig> {
        let playable = |f: SampleFormat| {
            matches!(f, SampleFormat::F32 | SampleFormat::I16 | SampleFormat::I32 | SampleFormat::U16 | SampleFormat::U8 | SampleFormat::F64)
        };
        if let Ok(ranges) = device.supported_output_configs() {
            let mut exact: Vec<_> = ranges
                .filter(|r| playable(r.sample_format()) && r.min_sample_rate() <= rate && rate <= r.max_sample_rate())
                .filter_map(|r| r.try_with_sample_rate(rate))
                .collect();
            exact.sort_by_key(|c| (c.channels(), c.sample_format() != SampleFormat::F32));
            if let Some(c) = exact.into_iter().next() {
                return Ok(c);
            }
        }
        device.default_output_config().context("the audio device reports no usable output configuration")
    }

    fn build<T: SizedSample + FromSample<f32>>(
        device: &cpal::Device,
        config: &StreamConfig,
        shared: &Arc<Shared>,
    ) -> anyhow::Result<cpal::Stream> {
        let channels = usize::from(config.channels.max(1));
        let feed = Arc::clone(shared);
        let errors = Arc::clone(shared);
        let stream = device
            .build_output_stream(
                *config,
                move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
                    let mut queue = feed.lock();
                    let took = !queue.samples.is_empty();
                    for frame in out.chunks_mut(channels) {
                        // Silence while the next sentence is being synthesized.
                        let value = T::from_sample(queue.samples.pop_front().unwrap_or(0.0));
                        frame.fill(value);
                    }
                    drop(queue);
                    if took {
                        feed.drained.notify_all();
                    }
                },
                move |err: cpal::Error| {
                    // Underruns and the like are glitches, not failures.
                    if matches!(err.kind(), cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied) {
                        return;
                    }
                    let mut queue = errors.lock();
                    queue.error.get_or_insert_with(|| err.to_string());
                    drop(queue);
                    errors.drained.notify_all();
                },
                None,
            )
            .context("cannot open an output stream on the audio device")?;
        Ok(stream)
    }
}
