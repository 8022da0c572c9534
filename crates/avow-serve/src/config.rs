//! What the server is allowed to do, fixed at start-up: the consent purpose,
//! the language each voice speaks, which voices exist, and the limits.
//! Nothing here can be changed by a request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use avow_engine::{ConsentPurpose, STOCK_VOICES};
use serde::Deserialize;

use crate::ServeError;

/// Limits that keep one client from starving the others or the machine.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Syntheses running at once.
    pub max_concurrency: usize,
    /// Speech requests waiting for a free synthesis slot; one more gets 429.
    pub queue: usize,
    /// How long a queued request waits for a slot before it gets 503.
    pub queue_timeout: Duration,
    /// Largest `input`, in Unicode scalar values (OpenAI counts characters; its limit is 4096).
    pub max_input_chars: usize,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Time a client has to send its whole request (headers and body): a
    /// client that dribbles bytes cannot hold a connection forever.
    pub request_timeout: Duration,
    /// Longest a single write to a client may block; a client that stops
    /// reading a stream loses it and frees its synthesis slot.
    pub write_timeout: Duration,
    /// Open connections at once (waiting, reading, synthesizing); more are
    /// answered 503 straight away.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Limits {
            max_concurrency: cores,
            queue: 2 * cores,
            queue_timeout: Duration::from_secs(60),
            max_input_chars: 4096,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(15),
            write_timeout: Duration::from_secs(30),
            max_connections: 64,
        }
    }
}

impl Limits {
    /// Rejects limits that would make the server refuse everything.
    pub fn check(&self) -> Result<(), ServeError> {
        let nonzero = [
            ("max concurrency", self.max_concurrency),
            ("max input chars", self.max_input_chars),
            ("max body bytes", self.max_body_bytes),
            ("max connections", self.max_connections),
        ];
        for (what, value) in nonzero {
            if value == 0 {
                return Err(ServeError::Config(format!("{what} must be at least 1")));
            }
        }
        if self.request_timeout.is_zero() || self.write_timeout.is_zero() {
            return Err(ServeError::Config("timeouts must be longer than zero".into()));
        }
        Ok(())
    }
}

/// Where a voice comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceSource {
    /// A stock voice, through its built-in signed record.
    Stock,
    /// A voice pack file and its signed consent record.
    Pack {
        /// The voice pack file.
        pack: PathBuf,
        /// The consent record file.
        consent: PathBuf,
    },
}

/// One voice the server offers, and the language it is verified for and speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceSpec {
    /// The name clients pass as `voice`.
    pub name: String,
    /// Stock or pack.
    pub source: VoiceSource,
    /// BCP-47 language the consent is checked for and the text is read in.
    pub language: String,
}

/// The whole server configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The consent purpose every synthesis is verified for.
    pub purpose: ConsentPurpose,
    /// The voices offered, in listing order.
    pub voices: Vec<VoiceSpec>,
    /// Limits.
    pub limits: Limits,
}

impl ServeConfig {
    /// The stock voices, each speaking `language`.
    pub fn stock_voices(language: &str) -> Vec<VoiceSpec> {
        STOCK_VOICES
            .iter()
            .map(|name| VoiceSpec { name: name.to_string(), source: VoiceSource::Stock, language: language.to_string() })
            .collect()
    }

    /// Checks names are unique and languages are known, and the limits.
    pub fn check(&self) -> Result<(), ServeError> {
        self.limits.check()?;
        if self.voices.is_empty() {
            return Err(ServeError::Config("no voices to serve".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for v in &self.voices {
            check_voice_name(&v.name)?;
            if !seen.insert(v.name.as_str()) {
                return Err(ServeError::Config(format!("voice `{}` is defined twice", v.name)));
            }
            avow_engine::check_language(&v.language).map_err(|e| ServeError::Config(format!("voice `{}`: {e}", v.name)))?;
        }
        Ok(())
    }
}

fn check_voice_name(name: &str) -> Result<(), ServeError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ServeError::Config(format!("voice name `{name}` must be 1 to 64 characters of A-Z, a-z, 0-9, `_`, `-`, `.`")))
    }
}

/// The voices file: a JSON object with a `voices` list.
///
/// ```json
/// { "voices": [
///   { "name": "alice", "pack": "alice.voicepack", "consent": "alice.consent.json", "language": "en-gb" }
/// ] }
/// ```
///
/// Relative paths are resolved against the file's directory; `language`
/// defaults to the server's `--lang`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoicesFile {
    voices: Vec<VoiceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoiceEntry {
    name: String,
    pack: PathBuf,
    consent: PathBuf,
    language: Option<String>,
}

/// Largest voices file read (it lists paths, not data).
const MAX_VOICES_FILE_BYTES: u64 = 1 << 20;

/// Reads a voices file (see the format above); `default_language` applies
/// to entries without their own.
pub fn read_voices_file(path: &Path, default_language: &str) -> Result<Vec<VoiceSpec>, ServeError> {
    let io = |source| ServeError::Io { path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_VOICES_FILE_BYTES {
        return Err(ServeError::Config(format!("{}: {len} bytes is over the {MAX_VOICES_FILE_BYTES} byte limit", path.display())));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse_voices(&text, path.parent().unwrap_or(Path::new(".")), default_language)
        .map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))
}

fn parse_voices(text: &str, base: &Path, default_language: &str) -> Result<Vec<VoiceSpec>, String> {
    let file: VoicesFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(file
        .voices
        .into_iter()
        .map(|e| VoiceSpec {
            name: e.name,
            source: VoiceSource::Pack { pack: base.join(e.pack), consent: base.join(e.consent) },
            language: e.language.unwrap_or_else(|| default_language.to_string()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(voices: Vec<VoiceSpec>) -> ServeConfig {
        ServeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            purpose: ConsentPurpose::Accessibility,
            voices,
            limits: Limits::default(),
        }
    }

    #[test]
    fn voices_file_paths_are_relative_to_the_file_and_language_defaults_to_the_server() {
        let text = r#"{"voices":[{"name":"alice","pack":"a.voicepack","consent":"/abs/a.json"},
                                 {"name":"bob","pack":"b.voicepack","consent":"b.json","language":"en-gb"}]}"#;
        let voices = parse_voices(text, Path::new("/etc/avow"), "en-us").unwrap();
        assert_eq!(
            voices[0].source,
            VoiceSource::Pack { pack: "/etc/avow/a.voicepack".into(), consent: "/abs/a.json".into() }
        );
        assert_eq!(voices[0].language, "en-us");
        assert_eq!(voices[1].language, "en-gb");
    }

    #[test]
    fn voices_file_typos_are_errors_not_silently_ignored() {
        let err = parse_voices(r#"{"voices":[{"name":"a","pack":"p","consnet":"c"}]}"#, Path::new("."), "en-us").unwrap_err();
        assert!(err.contains("consnet"), "{err}");
        assert!(parse_voices("not json", Path::new("."), "en-us").is_err());
    }

    #[test]
    fn duplicate_names_bad_names_and_unknown_languages_are_refused() {
        let mut voices = ServeConfig::stock_voices("en-us");
        voices.push(voices[0].clone());
        assert!(config(voices).check().is_err());
        let bad_name = vec![VoiceSpec { name: "a b".into(), source: VoiceSource::Stock, language: "en-us".into() }];
        assert!(config(bad_name).check().is_err());
        assert!(config(ServeConfig::stock_voices("tlh")).check().is_err());
        assert!(config(Vec::new()).check().is_err());
        assert!(config(ServeConfig::stock_voices("en-us")).check().is_ok());
    }

    #[test]
    fn zero_limits_are_refused() {
        let mut c = config(ServeConfig::stock_voices("en-us"));
        c.limits.max_concurrency = 0;
        assert!(c.check().is_err());
    }
}
