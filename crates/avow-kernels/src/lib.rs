//! CPU kernels for the model's inference hot spots, each with a run-time
//! check for the instructions it needs and a portable fallback.
//!
//! - [`Int8Conv1d`]: stride-1 convolution in 8-bit integers (AVX-512 VNNI),
//!   the way onnxruntime runs the int8 Kokoro export's `ConvInteger` layers.
//! - [`snake()`]: the generator's Snake activation with a vectorized sine.
//!
//! The unsafe code is confined here (SIMD intrinsics behind feature checks)
//! so that the model crate can forbid it.

#![deny(missing_docs)]

pub mod int8conv;
pub mod snake;

pub use int8conv::{vnni_available, Int8Conv1d, Int8ConvError};
pub use snake::snake;
