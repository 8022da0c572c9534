//! C ABI for the avow engine: the same single gated path as the Rust API
//! ([`avow_engine::Engine`]), for C and C++ programs (AAC and accessibility
//! apps) through `include/avow.h`.
//!
//! A voice is obtained only through the consent gate (a voice pack file and
//! its signed consent record, or a stock voice through its signed stock
//! record); speech comes back either as one buffer or sentence by sentence
//! through a callback, and every sample is watermarked and logged in the audit
//! ledger before the caller sees it. Nothing here accepts raw style vectors or
//! returns unmarked audio.
//!
//! Conventions, the same for every function:
//! - Every function that can fail returns an [`AvowStatus`]; on failure a
//!   message is available from [`avow_last_error`] on the same thread.
//! - No panic crosses the boundary: each entry point catches unwinding and
//!   reports [`AvowStatus::Internal`].
//! - `NULL` where a value is required gives [`AvowStatus::NullArgument`];
//!   text that is not UTF-8 gives [`AvowStatus::InvalidUtf8`]. File paths are
//!   taken as raw bytes (they need not be UTF-8 on Unix).
//! - Out-pointers are set to `NULL` (or zeroed) first, so a failed call never
//!   leaves a stale value behind.
//!
//! Not for: model management, record signing or watermark detection (use the
//! `avow` command for those).

#![deny(missing_docs)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use avow_consent::ConsentError;
use avow_engine::{ConsentPurpose, Engine, EngineError, EngineOptions, VerifiedVoice};

/// Sample rate of all audio avow returns, in Hz (mono, 32-bit float).
pub const AVOW_SAMPLE_RATE: u32 = 24000;

// The header states the rate as a literal; keep it equal to the model's.
const _: () = assert!(AVOW_SAMPLE_RATE == avow_engine::SAMPLE_RATE);

/// The outcome of a call. `AVOW_STATUS_OK` is 0; every other value is a
/// failure whose message [`avow_last_error`] returns. Values 10 to 20 are
/// consent refusals; 10 to 19 equal the exit codes of `avow consent verify`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvowStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was `NULL`.
    NullArgument = 1,
    /// A text argument (text, voice name, purpose, language) is not valid UTF-8.
    InvalidUtf8 = 2,
    /// An argument is out of range or unknown (speed, language, purpose, empty path).
    InvalidArgument = 3,
    /// No stock voice has this name.
    UnknownVoice = 4,
    /// A file could not be read or created.
    Io = 5,
    /// The model cache could not provide the weights (run `avow models fetch`).
    Models = 6,
    /// The text could not be prepared for speech (for example nothing speakable).
    Text = 7,
    /// The model failed or produced unusable audio.
    Synthesis = 8,
    /// A bug in avow: a panic was caught at the boundary. Please report it.
    Internal = 9,
    /// Consent refused: the record does not parse or breaks a format rule.
    ConsentMalformed = 10,
    /// Consent refused: the record's format version is not supported.
    ConsentUnsupportedVersion = 11,
    /// Consent refused: a signature does not match the record (tampered or corrupted).
    ConsentBadSignature = 12,
    /// Consent refused: no signature comes from a trusted issuer key.
    ConsentUntrustedSigner = 13,
    /// Consent refused: the record names a subject key that did not sign.
    ConsentMissingSubjectSignature = 14,
    /// Consent refused: the record is not valid yet.
    ConsentNotYetValid = 15,
    /// Consent refused: the record has expired.
    ConsentExpired = 16,
    /// Consent refused: the record was revoked.
    ConsentRevoked = 17,
    /// Consent refused: the purpose or language asked for is not granted.
    ConsentOutOfScope = 18,
    /// Consent refused: the voice pack is not the one the record covers.
    ConsentHashMismatch = 19,
    /// Consent could not be checked: a trusted key file is unusable.
    ConsentBadKey = 20,
    /// The voice pack passed the gate but is not a usable voice pack.
    VoicePack = 21,
    /// The watermark could not be applied; the audio was withheld.
    Watermark = 22,
    /// The audit ledger could not record the synthesis; the audio was withheld.
    Ledger = 23,
    /// The phonemizer (espeak-ng) could not start.
    Phonemizer = 24,
    /// The stream callback asked to stop.
    Cancelled = 25,
}

/// A loaded engine: model, phonemizer, trust roots, revocations and ledger.
/// Opaque; made by [`avow_engine_open`], released by [`avow_engine_free`].
/// Thread-safe: one engine may serve any number of threads at once.
pub struct AvowEngine {
    engine: Engine,
}

/// A voice that passed the consent gate for one purpose and one language.
/// Opaque; made by [`avow_voice_load`] or [`avow_voice_stock`], released by
/// [`avow_voice_free`]. Immutable and thread-safe: one voice may be used by
/// several threads at once, with any engine.
pub struct AvowVoice {
    voice: VerifiedVoice,
}

// The thread-safety promises above, checked at compile time.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<AvowEngine>();
    shareable::<AvowVoice>();
};

/// Watermarked speech returned by [`avow_speak`]. The caller owns `samples`
/// and releases it with [`avow_speech_free`] (never with `free()`).
#[repr(C)]
#[derive(Debug)]
pub struct AvowSpeech {
    /// `len` mono samples at `sample_rate` Hz, in -1.0..1.0; `NULL` when `len` is 0.
    pub samples: *mut f32,
    /// Number of samples.
    pub len: usize,
    /// Always [`AVOW_SAMPLE_RATE`].
    pub sample_rate: u32,
    /// The 32-bit watermark payload the samples carry (the consent record's fingerprint).
    pub watermark: u32,
}

/// Receives one piece of speech from [`avow_stream`]: `len` (> 0) mono
/// samples at [`AVOW_SAMPLE_RATE`] Hz, and the `user_data` given to
/// `avow_stream`. The samples belong to avow and are valid only until the
/// callback returns: copy what you keep. Return 0 to continue, non-zero to
/// stop (then `avow_stream` returns `AVOW_STATUS_CANCELLED`). The callback runs
/// on the thread that called `avow_stream` and must not unwind (no C++
/// exceptions, no `longjmp`).
pub type AvowChunkCallback = Option<unsafe extern "C" fn(samples: *const f32, len: usize, user_data: *mut c_void) -> c_int>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A failure on its way out of an entry point.
struct Failure {
    status: AvowStatus,
    message: String,
}

impl Failure {
    fn new(status: AvowStatus, message: impl Into<String>) -> Self {
        Failure { status, message: message.into() }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::Consent(c) => consent_status(c),
            EngineError::VoicePack(_) => AvowStatus::VoicePack,
            EngineError::Models(_) => AvowStatus::Models,
            EngineError::Model(_) | EngineError::Audio(_) => AvowStatus::Synthesis,
            EngineError::Text(_) => AvowStatus::Text,
            EngineError::Phonemizer(_) => AvowStatus::Phonemizer,
            EngineError::Watermark(_) => AvowStatus::Watermark,
            EngineError::Ledger(_) => AvowStatus::Ledger,
            EngineError::UnknownVoice { .. } => AvowStatus::UnknownVoice,
            EngineError::Invalid(_) => AvowStatus::InvalidArgument,
            EngineError::Io { .. } => AvowStatus::Io,
        };
        Failure::new(status, e.to_string())
    }
}

fn consent_status(e: &ConsentError) -> AvowStatus {
    match e {
        ConsentError::Malformed(_) => AvowStatus::ConsentMalformed,
        ConsentError::UnsupportedVersion(_) => AvowStatus::ConsentUnsupportedVersion,
        ConsentError::BadSignature(_) => AvowStatus::ConsentBadSignature,
        ConsentError::UntrustedSigner(_) => AvowStatus::ConsentUntrustedSigner,
        ConsentError::MissingSubjectSignature(_) => AvowStatus::ConsentMissingSubjectSignature,
        ConsentError::NotYetValid { .. } => AvowStatus::ConsentNotYetValid,
        ConsentError::Expired { .. } => AvowStatus::ConsentExpired,
        ConsentError::Revoked { .. } => AvowStatus::ConsentRevoked,
        ConsentError::OutOfScope(_) => AvowStatus::ConsentOutOfScope,
        ConsentError::HashMismatch { .. } => AvowStatus::ConsentHashMismatch,
        ConsentError::BadKey(_) => AvowStatus::ConsentBadKey,
        // Signing-only failures cannot come out of verification.
        ConsentError::AlreadySigned(_) => AvowStatus::Internal,
        ConsentError::Io(_) => AvowStatus::Io,
    }
}

fn set_last_error(message: &str) {
    // Interior NULs would cut the C string short; show them instead.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|slot| *slot.borrow_mut() = c);
}

/// Runs one entry point: resets the thread's error message, catches panics,
/// and turns the outcome into a status (storing the message on failure).
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> AvowStatus {
    set_last_error("");
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => AvowStatus::Ok,
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error (a bug in avow, please report it): {what}"));
            AvowStatus::Internal
        }
    }
}

/// A required UTF-8 string argument.
///
/// # Safety
/// `ptr` is `NULL` or points to a NUL-terminated string that lives for `'a`.
unsafe fn text_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::new(AvowStatus::NullArgument, format!("`{name}` is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(AvowStatus::InvalidUtf8, format!("`{name}` is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })
}

/// An optional path argument (`NULL` means the default). Paths are bytes on
/// Unix, so any file name works.
///
/// # Safety
/// `ptr` is `NULL` or points to a NUL-terminated string.
unsafe fn optional_path_arg(ptr: *const c_char, name: &str) -> Result<Option<PathBuf>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.is_empty() {
        return Err(Failure::new(AvowStatus::InvalidArgument, format!("`{name}` is an empty path; pass NULL for the default")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes))))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(|s| Some(PathBuf::from(s)))
            .map_err(|_| Failure::new(AvowStatus::InvalidUtf8, format!("`{name}` is not valid UTF-8")))
    }
}

/// A required path argument.
///
/// # Safety
/// As [`optional_path_arg`].
unsafe fn path_arg(ptr: *const c_char, name: &str) -> Result<PathBuf, Failure> {
    // SAFETY: forwarded contract.
    unsafe { optional_path_arg(ptr, name) }?.ok_or_else(|| Failure::new(AvowStatus::NullArgument, format!("`{name}` is NULL")))
}

/// # Safety
/// `ptr` is `NULL` or points to a live value of `T` for `'a`.
unsafe fn ref_arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller passes a pointer avow handed out and has not freed.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::new(AvowStatus::NullArgument, format!("`{name}` is NULL")))
}

fn purpose_arg(purpose: &str) -> Result<ConsentPurpose, Failure> {
    ConsentPurpose::parse(purpose).ok_or_else(|| {
        Failure::new(
            AvowStatus::InvalidArgument,
            format!("unknown purpose `{purpose}` (aac, accessibility, dubbing, narration, research)"),
        )
    })
}

/// Checks an out-pointer and clears what it points to, so that a failure
/// leaves `NULL` behind.
///
/// # Safety
/// `out` is `NULL` or valid for writing one pointer.
unsafe fn clear_out<T>(out: *mut *mut T, name: &str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::new(AvowStatus::NullArgument, format!("`{name}` is NULL")));
    }
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}

/// Releases a handle (engine or voice) that avow gave out with
/// `Box::into_raw`; `NULL` is ignored.
///
/// # Safety
/// `handle` is `NULL` or came from `Box::into_raw` and is not used again.
unsafe fn free_handle<T>(handle: *mut T) {
    if handle.is_null() {
        return;
    }
    // SAFETY: the caller's contract.
    let owned = unsafe { Box::from_raw(handle) };
    // Dropping runs no user code, but a panic must still not unwind into C.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(owned)));
}

/// The body of both voice constructors: clears `out_voice`, checks the
/// engine, purpose and language, lets `open` take the voice through the
/// consent gate, and hands the voice to the caller.
///
/// # Safety
/// `engine` is `NULL` or a live engine; `purpose` and `language` are `NULL`
/// or NUL-terminated; `out_voice` is `NULL` or valid for writing one pointer.
unsafe fn gated_voice(
    engine: *const AvowEngine,
    purpose: *const c_char,
    language: *const c_char,
    out_voice: *mut *mut AvowVoice,
    open: impl FnOnce(&Engine, ConsentPurpose, &str) -> Result<VerifiedVoice, Failure>,
) -> AvowStatus {
    guard(|| {
        // SAFETY: forwarded contract.
        unsafe {
            clear_out(out_voice, "out_voice")?;
            let engine = ref_arg(engine, "engine")?;
            let purpose = purpose_arg(text_arg(purpose, "purpose")?)?;
            let language = text_arg(language, "language")?;
            let voice = open(&engine.engine, purpose, language)?;
            out_voice.write(Box::into_raw(Box::new(AvowVoice { voice })));
        }
        Ok(())
    })
}

/// The engine, voice and text that both synthesis calls take, checked in
/// that order.
///
/// # Safety
/// `engine` and `voice` are `NULL` or live for `'a`; `text` is `NULL` or a
/// NUL-terminated string that lives for `'a`.
unsafe fn speech_args<'a>(
    engine: *const AvowEngine,
    voice: *const AvowVoice,
    text: *const c_char,
) -> Result<(&'a Engine, &'a VerifiedVoice, &'a str), Failure> {
    // SAFETY: forwarded contract.
    unsafe { Ok((&ref_arg(engine, "engine")?.engine, &ref_arg(voice, "voice")?.voice, text_arg(text, "text")?)) }
}

/// The avow version, e.g. `"0.1.0"`. Static storage: never free it.
#[no_mangle]
pub extern "C" fn avow_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The message of the most recent failed call on this thread, or `""` when
/// the most recent call succeeded (every call resets it). Never `NULL`. The
/// string belongs to avow and is valid until the next avow call on this
/// thread: copy it to keep it.
#[no_mangle]
pub extern "C" fn avow_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// The name of a status value, e.g. `"AVOW_STATUS_CONSENT_EXPIRED"`, or
/// `"AVOW_STATUS_UNKNOWN"` for a value avow does not define. Static storage:
/// never free it. Does not change [`avow_last_error`].
#[no_mangle]
pub extern "C" fn avow_status_name(status: c_int) -> *const c_char {
    let name: &'static str = match status {
        0 => "AVOW_STATUS_OK\0",
        1 => "AVOW_STATUS_NULL_ARGUMENT\0",
        2 => "AVOW_STATUS_INVALID_UTF8\0",
        3 => "AVOW_STATUS_INVALID_ARGUMENT\0",
        4 => "AVOW_STATUS_UNKNOWN_VOICE\0",
        5 => "AVOW_STATUS_IO\0",
        6 => "AVOW_STATUS_MODELS\0",
        7 => "AVOW_STATUS_TEXT\0",
        8 => "AVOW_STATUS_SYNTHESIS\0",
        9 => "AVOW_STATUS_INTERNAL\0",
        10 => "AVOW_STATUS_CONSENT_MALFORMED\0",
        11 => "AVOW_STATUS_CONSENT_UNSUPPORTED_VERSION\0",
        12 => "AVOW_STATUS_CONSENT_BAD_SIGNATURE\0",
        13 => "AVOW_STATUS_CONSENT_UNTRUSTED_SIGNER\0",
        14 => "AVOW_STATUS_CONSENT_MISSING_SUBJECT_SIGNATURE\0",
        15 => "AVOW_STATUS_CONSENT_NOT_YET_VALID\0",
        16 => "AVOW_STATUS_CONSENT_EXPIRED\0",
        17 => "AVOW_STATUS_CONSENT_REVOKED\0",
        18 => "AVOW_STATUS_CONSENT_OUT_OF_SCOPE\0",
        19 => "AVOW_STATUS_CONSENT_HASH_MISMATCH\0",
        20 => "AVOW_STATUS_CONSENT_BAD_KEY\0",
        21 => "AVOW_STATUS_VOICE_PACK\0",
        22 => "AVOW_STATUS_WATERMARK\0",
        23 => "AVOW_STATUS_LEDGER\0",
        24 => "AVOW_STATUS_PHONEMIZER\0",
        25 => "AVOW_STATUS_CANCELLED\0",
        _ => "AVOW_STATUS_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

/// Opens an engine: loads the model (converting cached weights on first use,
/// which can take tens of seconds), the phonemizer, the trust roots, the
/// revocations and the audit ledger. Do this once and share the engine.
///
/// Every path may be `NULL` for its default, the same as the `avow` command:
/// - `cache_dir`: model cache (default `$AVOW_CACHE_DIR`, then `~/.cache/avow`).
/// - `trust_dir`: directory of trusted issuer keys (`*.pub`). When given, only
///   its keys are trusted, replacing the defaults (`$AVOW_TRUST_DIR`, the user
///   trust directory and the built-in stock-voice key): put `avow-stock.pub`
///   in it too if you want stock voices.
/// - `revocation_dir`: directory of signed revocations (`*.json`), replacing
///   the default (`$AVOW_REVOCATION_DIR`, then `~/.config/avow/revoked`).
/// - `ledger_path`: audit ledger file (default `$AVOW_LEDGER`, then
///   `~/.local/share/avow/ledger.jsonl`); created with its directory if absent.
///
/// On success `*out_engine` holds a new engine that the caller owns and must
/// release with [`avow_engine_free`]; on failure it is `NULL`. The path
/// strings are only read during the call.
///
/// # Safety
/// Each path is `NULL` or a NUL-terminated string; `out_engine` is `NULL` or
/// valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn avow_engine_open(
    cache_dir: *const c_char,
    trust_dir: *const c_char,
    revocation_dir: *const c_char,
    ledger_path: *const c_char,
    out_engine: *mut *mut AvowEngine,
) -> AvowStatus {
    guard(|| {
        // SAFETY: the caller's contract for every argument.
        unsafe {
            clear_out(out_engine, "out_engine")?;
            let options = EngineOptions {
                cache_dir: optional_path_arg(cache_dir, "cache_dir")?,
                trust_dirs: optional_path_arg(trust_dir, "trust_dir")?.into_iter().collect(),
                revocation_dirs: optional_path_arg(revocation_dir, "revocation_dir")?.into_iter().collect(),
                ledger: optional_path_arg(ledger_path, "ledger_path")?,
                progress: false,
            };
            let engine = Engine::open(&options)?;
            out_engine.write(Box::into_raw(Box::new(AvowEngine { engine })));
        }
        Ok(())
    })
}

/// Releases an engine. `NULL` is ignored. The caller must make sure no other
/// thread is using the engine; voices made with it stay valid.
///
/// # Safety
/// `engine` is `NULL` or a pointer from [`avow_engine_open`] not yet freed.
#[no_mangle]
pub unsafe extern "C" fn avow_engine_free(engine: *mut AvowEngine) {
    // SAFETY: made by Box::into_raw in avow_engine_open, freed once by contract.
    unsafe { free_handle(engine) }
}

/// The consent gate for a voice pack file: verifies `record_path` (a signed
/// consent record) against the exact bytes of `pack_path`, the engine's trust
/// roots and revocations, for `purpose` (`"aac"`, `"accessibility"`,
/// `"dubbing"`, `"narration"` or `"research"`) and `language` (BCP-47, e.g.
/// `"en-us"`; also the language the voice will speak).
///
/// A refusal returns one of the `AVOW_STATUS_CONSENT_*` codes with the reason
/// in [`avow_last_error`]. On success `*out_voice` holds a new voice that the
/// caller owns and must release with [`avow_voice_free`]; on failure it is
/// `NULL`. The strings are only read during the call.
///
/// # Safety
/// `engine` is `NULL` or a live engine; the strings are `NULL` or
/// NUL-terminated; `out_voice` is `NULL` or valid for writing one pointer.
#[no_mangle]
pub unsafe extern "C" fn avow_voice_load(
    engine: *const AvowEngine,
    pack_path: *const c_char,
    record_path: *const c_char,
    purpose: *const c_char,
    language: *const c_char,
    out_voice: *mut *mut AvowVoice,
) -> AvowStatus {
    // SAFETY: the caller's contract for every argument.
    unsafe {
        gated_voice(engine, purpose, language, out_voice, |engine, purpose, language| {
            let pack = path_arg(pack_path, "pack_path")?;
            let record = path_arg(record_path, "record_path")?;
            Ok(engine.load_voice(&pack, &record, purpose, language)?)
        })
    }
}

/// A stock voice (`"jf_alpha"`, `"jf_gongitsune"`, `"jf_nezumi"`,
/// `"jf_tebukuro"` or `"jm_kumo"`) through its signed stock consent record,
/// for `purpose` and `language` as in [`avow_voice_load`]. The stock record is
/// signed by the project's stock-voice key, which must be trusted (it is by
/// default).
///
/// On success `*out_voice` holds a new voice that the caller owns and must
/// release with [`avow_voice_free`]; on failure it is `NULL`.
///
/// # Safety
/// As [`avow_voice_load`].
#[no_mangle]
pub unsafe extern "C" fn avow_voice_stock(
    engine: *const AvowEngine,
    name: *const c_char,
    purpose: *const c_char,
    language: *const c_char,
    out_voice: *mut *mut AvowVoice,
) -> AvowStatus {
    // SAFETY: the caller's contract for every argument.
    unsafe {
        gated_voice(engine, purpose, language, out_voice, |engine, purpose, language| {
            let name = text_arg(name, "name")?;
            Ok(engine.stock_voice(name, purpose, language)?)
        })
    }
}

/// The watermark payload every output of `voice` carries (its consent
/// record's fingerprint), written to `*out_watermark`.
///
/// # Safety
/// `voice` is `NULL` or a live voice; `out_watermark` is `NULL` or valid for
/// writing a `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn avow_voice_watermark(voice: *const AvowVoice, out_watermark: *mut u32) -> AvowStatus {
    guard(|| {
        // SAFETY: the caller's contract for every argument.
        unsafe {
            let voice = ref_arg(voice, "voice")?;
            if out_watermark.is_null() {
                return Err(Failure::new(AvowStatus::NullArgument, "`out_watermark` is NULL"));
            }
            out_watermark.write(voice.voice.consent().watermark_payload());
        }
        Ok(())
    })
}

/// Releases a voice. `NULL` is ignored. The caller must make sure no other
/// thread is using the voice.
///
/// # Safety
/// `voice` is `NULL` or a pointer from [`avow_voice_load`] or
/// [`avow_voice_stock`] not yet freed.
#[no_mangle]
pub unsafe extern "C" fn avow_voice_free(voice: *mut AvowVoice) {
    // SAFETY: made by Box::into_raw in a voice constructor, freed once by contract.
    unsafe { free_handle(voice) }
}

/// Speaks `text` (UTF-8) with `voice` at `speed` (1.0 is natural; 0.5 to
/// 2.5) into one buffer. The audio is watermarked and one audit ledger entry
/// is written before this returns.
///
/// `*out_speech` is zeroed first; on success it holds samples that the caller
/// owns and must release with [`avow_speech_free`]. `text` is only read
/// during the call.
///
/// # Safety
/// `engine` and `voice` are `NULL` or live; `text` is `NULL` or
/// NUL-terminated; `out_speech` is `NULL` or valid for writing an `AvowSpeech`.
#[no_mangle]
pub unsafe extern "C" fn avow_speak(
    engine: *const AvowEngine,
    voice: *const AvowVoice,
    text: *const c_char,
    speed: f32,
    out_speech: *mut AvowSpeech,
) -> AvowStatus {
    guard(|| {
        // SAFETY: the caller's contract for every argument.
        unsafe {
            if out_speech.is_null() {
                return Err(Failure::new(AvowStatus::NullArgument, "`out_speech` is NULL"));
            }
            out_speech.write(AvowSpeech { samples: std::ptr::null_mut(), len: 0, sample_rate: AVOW_SAMPLE_RATE, watermark: 0 });
            let (engine, voice, text) = speech_args(engine, voice, text)?;
            let speech = engine.speak(voice, text, speed)?;
            let samples = speech.samples.into_boxed_slice();
            let len = samples.len();
            let ptr = if len == 0 { std::ptr::null_mut() } else { Box::into_raw(samples).cast::<f32>() };
            out_speech.write(AvowSpeech { samples: ptr, len, sample_rate: AVOW_SAMPLE_RATE, watermark: speech.watermark });
        }
        Ok(())
    })
}

/// Releases the samples of an [`AvowSpeech`] filled by [`avow_speak`] and
/// zeroes it (so a second call is harmless). `NULL` and a zeroed
/// `AvowSpeech` are ignored.
///
/// # Safety
/// `speech` is `NULL` or points to an `AvowSpeech` that is zeroed or was
/// filled by [`avow_speak`], with `samples` and `len` unchanged.
#[no_mangle]
pub unsafe extern "C" fn avow_speech_free(speech: *mut AvowSpeech) {
    // SAFETY: the caller's contract.
    let Some(speech) = (unsafe { speech.as_mut() }) else { return };
    if !speech.samples.is_null() && speech.len > 0 {
        // SAFETY: made by Box::into_raw of a boxed slice of exactly `len` samples in avow_speak.
        let owned = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(speech.samples, speech.len)) };
        drop(owned);
    }
    speech.samples = std::ptr::null_mut();
    speech.len = 0;
}

/// Speaks `text` piece by piece: `callback` receives each piece of
/// watermarked audio as soon as it is synthesized: the first sentence's
/// opening words, then the rest of it, then each further sentence (so the
/// first audio does not wait for the whole text). Each piece gets its own audit
/// ledger entry, written before the callback sees it. Concatenated, the
/// pieces carry `voice`'s watermark just as [`avow_speak`]'s buffer does.
///
/// Returns `AVOW_STATUS_OK` after the last piece, `AVOW_STATUS_CANCELLED` as
/// soon as the callback returns non-zero (no more pieces are synthesized), or
/// another failure (pieces already delivered stay valid speech). `text` and
/// `user_data` are only used during the call; avow never dereferences
/// `user_data`.
///
/// # Safety
/// `engine` and `voice` are `NULL` or live; `text` is `NULL` or
/// NUL-terminated; `callback` is `NULL` or a function with the
/// [`AvowChunkCallback`] contract.
#[no_mangle]
pub unsafe extern "C" fn avow_stream(
    engine: *const AvowEngine,
    voice: *const AvowVoice,
    text: *const c_char,
    speed: f32,
    callback: AvowChunkCallback,
    user_data: *mut c_void,
) -> AvowStatus {
    guard(|| {
        // SAFETY: the caller's contract for every argument.
        unsafe {
            let (engine, voice, text) = speech_args(engine, voice, text)?;
            let callback = callback.ok_or_else(|| Failure::new(AvowStatus::NullArgument, "`callback` is NULL"))?;
            let mut delivered = 0usize;
            for piece in engine.stream(voice, text, speed)? {
                let piece = piece?;
                // An empty piece has nothing to play; a zero-length call would only confuse players.
                if piece.is_empty() {
                    continue;
                }
                delivered += 1;
                if callback(piece.as_ptr(), piece.len(), user_data) != 0 {
                    return Err(Failure::new(
                        AvowStatus::Cancelled,
                        format!("cancelled by the callback after {delivered} piece{}", if delivered == 1 { "" } else { "s" }),
                    ));
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: avow_last_error never returns NULL and the string lives until the next call.
        unsafe { CStr::from_ptr(avow_last_error()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn status_names_match_the_enum_values() {
        let all = [
            (AvowStatus::Ok, "OK"),
            (AvowStatus::NullArgument, "NULL_ARGUMENT"),
            (AvowStatus::InvalidUtf8, "INVALID_UTF8"),
            (AvowStatus::ConsentMalformed, "CONSENT_MALFORMED"),
            (AvowStatus::ConsentHashMismatch, "CONSENT_HASH_MISMATCH"),
            (AvowStatus::ConsentBadKey, "CONSENT_BAD_KEY"),
            (AvowStatus::Cancelled, "CANCELLED"),
        ];
        for (status, name) in all {
            // SAFETY: static NUL-terminated strings.
            let got = unsafe { CStr::from_ptr(avow_status_name(status as c_int)) }.to_str().unwrap();
            assert_eq!(got, format!("AVOW_STATUS_{name}"));
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(avow_status_name(999)) }.to_str().unwrap();
        assert_eq!(unknown, "AVOW_STATUS_UNKNOWN");
    }

    #[test]
    fn consent_refusals_map_to_the_cli_exit_codes() {
        let cases = [
            ConsentError::Malformed("x".into()),
            ConsentError::UnsupportedVersion("x".into()),
            ConsentError::OutOfScope("x".into()),
            ConsentError::Expired { not_after: "a".into(), now: "b".into() },
            ConsentError::NotYetValid { not_before: "a".into(), now: "b".into() },
            ConsentError::HashMismatch { expected: "a".into(), actual: "b".into() },
        ];
        for e in cases {
            assert_eq!(consent_status(&e) as i32, i32::from(e.exit_code()), "{e}");
        }
    }

    #[test]
    fn null_arguments_are_refused_with_a_message_not_a_crash() {
        // SAFETY: NULL is allowed for every pointer argument.
        let status = unsafe { avow_engine_open(std::ptr::null(), std::ptr::null(), std::ptr::null(), std::ptr::null(), std::ptr::null_mut()) };
        assert_eq!(status, AvowStatus::NullArgument);
        assert!(last_error().contains("out_engine"), "{}", last_error());

        let mut voice: *mut AvowVoice = std::ptr::dangling_mut();
        // SAFETY: as above; `voice` is writable.
        let status = unsafe { avow_voice_stock(std::ptr::null(), c"jf_alpha".as_ptr(), c"aac".as_ptr(), c"en-us".as_ptr(), &mut voice) };
        assert_eq!(status, AvowStatus::NullArgument);
        assert!(voice.is_null(), "a failed call must leave NULL behind");
        assert!(last_error().contains("engine"));

        let mut speech = AvowSpeech { samples: std::ptr::dangling_mut(), len: 7, sample_rate: 0, watermark: 1 };
        // SAFETY: as above.
        let status = unsafe { avow_speak(std::ptr::null(), std::ptr::null(), std::ptr::null(), 1.0, &mut speech) };
        assert_eq!(status, AvowStatus::NullArgument);
        assert!(speech.samples.is_null() && speech.len == 0, "a failed call must leave an empty speech");
        // SAFETY: a zeroed speech is accepted.
        unsafe { avow_speech_free(&mut speech) };

        // SAFETY: as above.
        let status = unsafe { avow_stream(std::ptr::null(), std::ptr::null(), c"hi".as_ptr(), 1.0, None, std::ptr::null_mut()) };
        assert_eq!(status, AvowStatus::NullArgument);

        // A success resets the message.
        let mut w = 0u32;
        // SAFETY: as above.
        assert_eq!(unsafe { avow_voice_watermark(std::ptr::null(), &mut w) }, AvowStatus::NullArgument);
        assert!(!last_error().is_empty());
        // SAFETY: freeing NULL is a no-op.
        unsafe {
            avow_engine_free(std::ptr::null_mut());
            avow_voice_free(std::ptr::null_mut());
            avow_speech_free(std::ptr::null_mut());
        }
    }

    #[test]
    fn invalid_utf8_and_bad_purposes_are_named_in_the_error() {
        assert!(matches!(purpose_arg("spam"), Err(Failure { status: AvowStatus::InvalidArgument, .. })));
        let bad = c"caf\xe9";
        // SAFETY: a NUL-terminated literal.
        let err = unsafe { text_arg(bad.as_ptr(), "language") }.err().unwrap();
        assert_eq!(err.status, AvowStatus::InvalidUtf8);
        assert!(err.message.contains("language") && err.message.contains("offset 3"), "{}", err.message);
        // SAFETY: as above.
        let err = unsafe { optional_path_arg(c"".as_ptr(), "cache_dir") }.err().unwrap();
        assert_eq!(err.status, AvowStatus::InvalidArgument);
    }

    #[test]
    fn a_panic_inside_an_entry_point_becomes_a_status() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, AvowStatus::Internal);
        assert!(last_error().contains("boom"));
        assert_eq!(guard(|| Ok(())), AvowStatus::Ok);
        assert_eq!(last_error(), "");
    }

    #[test]
    fn the_version_is_the_crate_version() {
        // SAFETY: static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(avow_version()) }.to_str().unwrap();
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
    }
}
