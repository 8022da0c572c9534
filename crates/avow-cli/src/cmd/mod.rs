//! One module per subcommand. Each exposes clap argument types and a `run`
//! returning the process exit code (errors print as `avow: error: ...`, exit 1).

pub mod bank;
pub mod audit;
pub mod consent;
pub mod detect;
pub mod dub;
pub mod enroll;
pub mod keys;
pub mod models;
pub mod play;
pub mod record;
pub mod say;
pub mod serve;
pub mod transcribe;
pub mod watermark;
