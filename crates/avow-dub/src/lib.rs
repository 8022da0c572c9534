//! Dubbing: translated subtitles spoken in a consenting voice, on time.
//!
//! For: reading SRT and WebVTT files into spoken lines ([`subs`]), fitting
//! each line's speech into its cue ([`plan`]: faster speech, then
//! pitch-preserving compression, then a bounded overrun, never into the
//! next cue), synthesizing through the engine's gated path with a per-cue
//! work directory so runs resume ([`dub`], [`cache`]), laying the cues into
//! one track ([`track`]), mixing over a bed with ducking and EBU R128
//! loudness, reporting every cue ([`report`]), and splitting batches into
//! shards ([`shard`]).
//!
//! Not for: translation, lip sync, or audio the engine did not mark: every
//! sample of speech comes from `avow_engine::Engine::speak_with`, which
//! applies the tempo change before the watermark and writes one ledger
//! entry per cue. The DSP lives in `avow-audio`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod cache;
pub mod dub;
pub mod output;
pub mod plan;
pub mod report;
pub mod shard;
pub mod subs;
pub mod track;

pub use dub::{dub, plan_only, DubError, DubOptions, Dubbed, NoProgress, Progress};
