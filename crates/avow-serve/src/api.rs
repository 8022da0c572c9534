//! The OpenAI-compatible request and error shapes, and how engine errors
//! become HTTP answers.

use avow_engine::{EngineError, MAX_SPEED, MIN_SPEED, SAMPLE_RATE};
use serde::Deserialize;
use serde_json::json;

use crate::config::Limits;

/// The body of `POST /v1/audio/speech`. Fields OpenAI defines that do not
/// apply here (`instructions`) and unknown fields are accepted and ignored,
/// so existing clients work unchanged.
#[derive(Debug, Deserialize)]
struct RawSpeechRequest {
    input: String,
    voice: String,
    /// Accepted and ignored: there is one model.
    #[allow(dead_code)]
    model: Option<String>,
    response_format: Option<String>,
    speed: Option<f64>,
    stream_format: Option<String>,
}

/// The audio encodings served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// 16-bit mono WAV whose header declares an unknown (maximal) length.
    Wav,
    /// Headerless 16-bit little-endian mono samples at 24 kHz (OpenAI's `pcm`).
    Pcm,
}

impl AudioFormat {
    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Wav => "audio/wav",
            AudioFormat::Pcm => "audio/pcm",
        }
    }
}

/// A checked speech request.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRequest {
    /// The text.
    pub input: String,
    /// The voice name (not yet looked up).
    pub voice: String,
    /// The encoding.
    pub format: AudioFormat,
    /// The speaking rate.
    pub speed: f32,
}

/// An error answer in OpenAI's shape: `{"error": {message, type, param, code}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// What went wrong, for people.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `server_error`, ...).
    pub kind: &'static str,
    /// The request field at fault.
    pub param: Option<&'static str>,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A 400 about request field `param`.
    pub fn invalid(param: Option<&'static str>, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status: 400, message: message.into(), kind: "invalid_request_error", param, code, retry_after: None }
    }

    /// Any status with an `invalid_request_error` type.
    pub fn status(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, ..Self::invalid(None, code, message) }
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        json!({"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}})
            .to_string()
            .into_bytes()
    }

    /// The error an engine failure becomes; `voice` names the voice in messages.
    pub fn from_engine(error: &EngineError, voice: &str) -> Self {
        match error {
            EngineError::Consent(e) => ApiError {
                status: 403,
                message: format!("consent refused for voice `{voice}`: {e}"),
                kind: "permission_error",
                param: Some("voice"),
                code: "consent_refused",
                retry_after: None,
            },
            EngineError::UnknownVoice { .. } => Self::invalid(Some("voice"), "voice_not_found", error.to_string()),
            EngineError::Text(_) | EngineError::Invalid(_) => Self::invalid(Some("input"), "invalid_input", error.to_string()),
            _ => ApiError {
                status: 500,
                message: format!("synthesis failed: {error}"),
                kind: "server_error",
                param: None,
                code: "synthesis_failed",
                retry_after: None,
            },
        }
    }
}

/// Parses and checks a speech request body against the limits.
pub fn parse_speech(body: &[u8], limits: &Limits) -> Result<SpeechRequest, ApiError> {
    let raw: RawSpeechRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(None, "invalid_json", format!("the request body is not a valid speech request: {e}")))?;
    if raw.input.trim().is_empty() {
        return Err(ApiError::invalid(Some("input"), "invalid_input", "`input` is empty"));
    }
    let chars = raw.input.chars().count();
    if chars > limits.max_input_chars {
        return Err(ApiError::invalid(
            Some("input"),
            "string_above_max_length",
            format!("`input` is {chars} characters; this server's limit is {}", limits.max_input_chars),
        ));
    }
    let format = match raw.response_format.as_deref() {
        // OpenAI defaults to mp3, which this server cannot encode; WAV is the nearest self-describing format.
        None | Some("wav") => AudioFormat::Wav,
        Some("pcm") => AudioFormat::Pcm,
        Some(other @ ("mp3" | "opus" | "aac" | "flac")) => {
            return Err(ApiError::invalid(
                Some("response_format"),
                "unsupported_response_format",
                format!("response_format `{other}` is not supported by this server; use `wav` or `pcm`"),
            ))
        }
        Some(other) => {
            return Err(ApiError::invalid(
                Some("response_format"),
                "invalid_value",
                format!("unknown response_format `{other}`; this server serves `wav` and `pcm`"),
            ))
        }
    };
    match raw.stream_format.as_deref() {
        None | Some("audio") => {}
        Some(other) => {
            return Err(ApiError::invalid(
                Some("stream_format"),
                "unsupported_stream_format",
                format!("stream_format `{other}` is not supported; audio is always streamed as the response body (`audio`)"),
            ))
        }
    }
    let speed = raw.speed.unwrap_or(1.0);
    // The model's usable range is narrower than OpenAI's 0.25..=4.0; say so rather than clamp silently.
    if !(speed.is_finite() && (MIN_SPEED as f64..=MAX_SPEED as f64).contains(&speed)) {
        return Err(ApiError::invalid(
            Some("speed"),
            "invalid_value",
            format!("speed {speed} is outside this server's range {MIN_SPEED}..={MAX_SPEED}"),
        ));
    }
    Ok(SpeechRequest { input: raw.input, voice: raw.voice, format, speed: speed as f32 })
}

/// A WAV header for a stream whose length is not known when it starts:
/// both the RIFF size and the data size say 0xFFFFFFFF, as OpenAI's streamed
/// WAV does. Readers that trust the sizes read to the end of the stream.
pub fn streaming_wav_header() -> [u8; 44] {
    let mut h = [0u8; 44];
    let channels: u16 = 1;
    let bits: u16 = 16;
    let block_align = channels * bits / 8;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // integer PCM
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&(SAMPLE_RATE * block_align as u32).to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&bits.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<SpeechRequest, ApiError> {
        parse_speech(body.as_bytes(), &Limits { max_input_chars: 10, ..Limits::default() })
    }

    #[test]
    fn an_openai_request_parses_with_defaults_and_ignores_extra_fields() {
        let r = parse(r#"{"model":"tts-1","input":"Hello.","voice":"jf_alpha","instructions":"cheerful"}"#).unwrap();
        assert_eq!(r, SpeechRequest { input: "Hello.".into(), voice: "jf_alpha".into(), format: AudioFormat::Wav, speed: 1.0 });
        let r = parse(r#"{"input":"Hi","voice":"v","response_format":"pcm","speed":2.0}"#).unwrap();
        assert_eq!((r.format, r.speed), (AudioFormat::Pcm, 2.0));
    }

    #[test]
    fn each_bad_field_is_named_in_the_error() {
        let cases = [
            (r#"{"input":"Hi""#, None, "invalid_json"),
            (r#"{"voice":"v"}"#, None, "invalid_json"),
            (r#"{"input":"  ","voice":"v"}"#, Some("input"), "invalid_input"),
            (r#"{"input":"eleven chars","voice":"v"}"#, Some("input"), "string_above_max_length"),
            (r#"{"input":"Hi","voice":"v","response_format":"mp3"}"#, Some("response_format"), "unsupported_response_format"),
            (r#"{"input":"Hi","voice":"v","response_format":"ogg"}"#, Some("response_format"), "invalid_value"),
            (r#"{"input":"Hi","voice":"v","speed":4.0}"#, Some("speed"), "invalid_value"),
            (r#"{"input":"Hi","voice":"v","speed":0.25}"#, Some("speed"), "invalid_value"),
            (r#"{"input":"Hi","voice":"v","stream_format":"sse"}"#, Some("stream_format"), "unsupported_stream_format"),
        ];
        for (body, param, code) in cases {
            let e = parse(body).unwrap_err();
            assert_eq!((e.status, e.param, e.code), (400, param, code), "{body}: {}", e.message);
        }
    }

    #[test]
    fn input_length_counts_characters_not_bytes() {
        // Ten characters, thirty bytes.
        assert!(parse(r#"{"input":"ああああああああああ","voice":"v"}"#).is_ok());
    }

    #[test]
    fn errors_have_openai_shape() {
        let e = ApiError::invalid(Some("voice"), "voice_not_found", "no such voice");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["message"], "no such voice");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "voice");
        assert_eq!(v["error"]["code"], "voice_not_found");
    }

    #[test]
    fn the_streaming_wav_header_describes_24khz_mono_16bit_of_unknown_length() {
        let h = streaming_wav_header();
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(&h[36..40], b"data");
        assert_eq!(u32::from_le_bytes([h[24], h[25], h[26], h[27]]), 24_000);
        assert_eq!(u16::from_le_bytes([h[22], h[23]]), 1);
        assert_eq!(u16::from_le_bytes([h[34], h[35]]), 16);
        assert_eq!(u32::from_le_bytes([h[40], h[41], h[42], h[43]]), u32::MAX);
    }
}
