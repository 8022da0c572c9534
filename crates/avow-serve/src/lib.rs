//! `avow serve`: a local speech service with OpenAI's `POST /v1/audio/speech`
//! shape, on the avow engine.
//!
//! What a request may choose: the text, a voice among those configured, the
//! encoding (`wav` or `pcm`) and the speed. What it may not: the consent
//! purpose and the language, which the server's configuration binds. Every
//! voice is verified through the engine's consent gate at start-up (a refused
//! voice stops the server from starting) and again for every request, so an
//! expired record or an altered pack file is refused while the server runs.
//! All audio comes from [`Engine::stream`]: watermarked, and ledgered before
//! it is sent.
//!
//! Limits: body size, input length, N syntheses at once with a bounded
//! first-come-first-served queue (beyond it: 429 with `Retry-After`, never a
//! hang), a deadline for receiving each request, a write timeout for clients
//! that stop reading, and a cap on open connections. Shutdown stops
//! accepting, answers queued requests 503 and lets running ones finish.
//!
//! Not for: the network at large. It speaks plain HTTP/1.1 without TLS or
//! authentication, one request per connection; it listens on loopback unless
//! told otherwise.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod admission;
pub mod api;
pub mod config;
pub mod http;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use avow_engine::{Engine, EngineError};
use avow_voice::Voice;
use serde_json::json;

pub use admission::{Admission, Admit, Load};
pub use api::{ApiError, AudioFormat, SpeechRequest};
pub use config::{read_voices_file, Limits, ServeConfig, VoiceSource, VoiceSpec};

use http::{ChunkedBody, DeadlineReader, Head, ReadError};

/// Errors that stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is inconsistent.
    #[error("configuration: {0}")]
    Config(String),
    /// A configured voice was refused or could not be loaded.
    #[error("voice `{name}`: {source}")]
    Voice {
        /// The voice name.
        name: String,
        /// Why.
        source: EngineError,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Accepting connections failed.
    #[error("socket: {0}")]
    Socket(#[from] std::io::Error),
}

/// The one model name listed by `GET /v1/models` (requests may name any model).
pub const MODEL_ID: &str = "kokoro-82m";

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    config: ServeConfig,
    voices: HashMap<String, VoiceSpec>,
    admission: Admission,
    shutting_down: AtomicBool,
    connections: AtomicUsize,
    local_addr: SocketAddr,
}

/// Asks a running server to stop; cheap to clone and usable from any thread
/// (a signal handler thread, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    shared: Arc<Shared>,
}

impl ShutdownHandle {
    /// Stops accepting connections, answers queued requests 503 and lets
    /// running syntheses finish; [`Server::run`] returns once they have (or
    /// after its grace period).
    pub fn shutdown(&self) {
        if self.shared.shutting_down.swap(true, Ordering::SeqCst) {
            return;
        }
        self.shared.admission.close();
        // `accept` has no timeout: a connection to ourselves wakes it so it sees the flag.
        let _ = TcpStream::connect_timeout(&wake_address(self.shared.local_addr), Duration::from_secs(1));
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::SeqCst)
    }
}

/// The address to connect to in order to reach a listener bound to `addr`
/// (a wildcard address is reached through loopback).
fn wake_address(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port()),
        _ => addr,
    }
}

/// How long a finished connection waits for the client's unread bytes and close.
const CLOSE_LINGER: Duration = Duration::from_secs(2);

/// How long [`Server::run`] waits for running requests after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

impl Server {
    /// Checks the configuration, verifies every configured voice through the
    /// consent gate for the configured purpose and its language, and binds.
    pub fn bind(engine: Engine, config: ServeConfig) -> Result<Self, ServeError> {
        config.check()?;
        for spec in &config.voices {
            load_voice(&engine, &config, spec).map_err(|source| ServeError::Voice { name: spec.name.clone(), source })?;
        }
        let listener = TcpListener::bind(config.listen).map_err(|source| ServeError::Bind { addr: config.listen, source })?;
        let local_addr = listener.local_addr()?;
        let limits = &config.limits;
        let admission = Admission::new(limits.max_concurrency, limits.queue, limits.queue_timeout);
        let voices = config.voices.iter().map(|v| (v.name.clone(), v.clone())).collect();
        let shared = Shared {
            engine,
            config,
            voices,
            admission,
            shutting_down: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            local_addr,
        };
        Ok(Server { listener, shared: Arc::new(shared) })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// A handle to stop the server from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle { shared: Arc::clone(&self.shared) }
    }

    /// Serves until [`ShutdownHandle::shutdown`], then waits (up to 30 s) for
    /// running requests to finish. Each connection gets its own thread; the
    /// number of open connections and of running syntheses is bounded.
    pub fn run(self) -> Result<(), ServeError> {
        let shared = self.shared;
        for incoming in self.listener.incoming() {
            if shared.shutting_down.load(Ordering::SeqCst) {
                break;
            }
            let stream = match incoming {
                Ok(s) => s,
                // Per-connection failures (a client that reset before accept,
                // a momentary lack of descriptors) must not stop the server.
                Err(e) => {
                    eprintln!("avow serve: accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            let guard = ConnectionGuard::enter(&shared);
            if guard.count > shared.config.limits.max_connections {
                refuse_overloaded(&stream, &shared.config.limits);
                continue;
            }
            let conn_shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new().name("avow-serve-conn".into()).spawn(move || {
                let _guard = guard;
                handle_connection(&conn_shared, stream);
            });
            if let Err(e) = spawned {
                eprintln!("avow serve: cannot start a connection thread: {e}");
            }
        }
        drop(self.listener);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while shared.connections.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = shared.connections.load(Ordering::SeqCst);
        if left > 0 {
            eprintln!("avow serve: {left} connection(s) still open after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
        Ok(())
    }
}

/// Counts an open connection for as long as it lives.
struct ConnectionGuard {
    shared: Arc<Shared>,
    count: usize,
}

impl ConnectionGuard {
    fn enter(shared: &Arc<Shared>) -> Self {
        let count = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
        ConnectionGuard { shared: Arc::clone(shared), count }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.shared.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refuse_overloaded(stream: &TcpStream, limits: &Limits) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let error = ApiError {
        retry_after: Some(1),
        ..ApiError::status(503, "too_many_connections", format!("the server has {} connections open; retry shortly", limits.max_connections))
    };
    let mut writer = stream;
    let _ = send_error(&mut writer, &error);
    // Short: this runs on the accepting thread, which must get back to work.
    http::close_gracefully(stream, Duration::from_millis(50));
}

/// Resolves a voice through the consent gate for the server's purpose.
fn load_voice(engine: &Engine, config: &ServeConfig, spec: &VoiceSpec) -> Result<Voice, EngineError> {
    match &spec.source {
        VoiceSource::Stock => engine.stock_voice(&spec.name, config.purpose, &spec.language),
        VoiceSource::Pack { pack, consent } => engine.load_voice(pack, consent, config.purpose, &spec.language),
    }
}

fn send_error(out: &mut impl std::io::Write, error: &ApiError) -> std::io::Result<()> {
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    if let Some(seconds) = error.retry_after {
        headers.push(("Retry-After", seconds.to_string()));
    }
    http::write_response(out, error.status, &headers, &error.body())
}

fn send_json(out: &mut impl std::io::Write, status: u16, value: &serde_json::Value) -> std::io::Result<()> {
    http::write_response(out, status, &[("Content-Type", "application/json".to_string())], value.to_string().as_bytes())
}

/// The routes, and the methods each allows.
const ROUTES: &[(&str, &str)] =
    &[("/health", "GET"), ("/v1/models", "GET"), ("/v1/voices", "GET"), ("/v1/audio/speech", "POST")];

fn handle_connection(shared: &Shared, stream: TcpStream) {
    let started = Instant::now();
    let limits = &shared.config.limits;
    let _ = stream.set_nodelay(true);
    if stream.set_write_timeout(Some(limits.write_timeout)).is_err() {
        return;
    }
    let mut reader = DeadlineReader::new(&stream, limits.request_timeout);
    let head = match reader.read_head() {
        Ok(head) => head,
        Err(e) => {
            answer_read_error(&stream, &e);
            return;
        }
    };
    let mut writer = &stream;
    let outcome = match ROUTES.iter().find(|(path, _)| *path == head.path) {
        None => Outcome::Error(ApiError::status(404, "not_found", format!("no route {} (see /v1/audio/speech, /v1/voices, /v1/models, /health)", head.path))),
        Some((_, method)) if *method != head.method => {
            let error = ApiError::status(405, "method_not_allowed", format!("{} takes {method}", head.path));
            let _ = http::write_response(
                &mut writer,
                405,
                &[("Content-Type", "application/json".into()), ("Allow", method.to_string())],
                &error.body(),
            );
            Outcome::Sent(405)
        }
        Some(("/health", _)) => {
            let load = shared.admission.load();
            let (status, state) = if shared.shutting_down.load(Ordering::SeqCst) { (503, "shutting_down") } else { (200, "ok") };
            let body = json!({
                "status": state,
                "running": load.running,
                "queued": load.waiting,
                "max_concurrency": limits.max_concurrency,
                "queue": limits.queue,
            });
            Outcome::from_io(send_json(&mut writer, status, &body), status)
        }
        Some(("/v1/models", _)) => {
            let body = json!({"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "avow"}]});
            Outcome::from_io(send_json(&mut writer, 200, &body), 200)
        }
        Some(("/v1/voices", _)) => {
            let data: Vec<_> = shared
                .config
                .voices
                .iter()
                .map(|v| {
                    let source = match v.source {
                        VoiceSource::Stock => "stock",
                        VoiceSource::Pack { .. } => "pack",
                    };
                    json!({"id": v.name, "object": "voice", "source": source, "language": v.language, "purpose": shared.config.purpose.as_str()})
                })
                .collect();
            Outcome::from_io(send_json(&mut writer, 200, &json!({"object": "list", "data": data})), 200)
        }
        Some(_) => speech(shared, &stream, &mut reader, &head),
    };
    let status = match outcome {
        Outcome::Sent(status) => status.to_string(),
        Outcome::Error(error) => {
            let _ = send_error(&mut writer, &error);
            if error.status >= 500 {
                eprintln!("avow serve: {} {}: {}", head.method, head.path, error.message);
            }
            error.status.to_string()
        }
        Outcome::Aborted(why) => format!("aborted ({why})"),
    };
    eprintln!("avow serve: {} {} {status} {:.2}s", head.method, head.path, started.elapsed().as_secs_f64());
    http::close_gracefully(&stream, CLOSE_LINGER);
}

/// How a request ended.
enum Outcome {
    /// A complete response was sent with this status.
    Sent(u16),
    /// An error response is still to be sent.
    Error(ApiError),
    /// The response was cut off after its status line (client gone or a
    /// failure mid-stream); the reason is logged.
    Aborted(String),
}

impl Outcome {
    fn from_io(result: std::io::Result<()>, status: u16) -> Self {
        match result {
            Ok(()) => Outcome::Sent(status),
            Err(e) => Outcome::Aborted(format!("write failed: {e}")),
        }
    }
}

/// The answer to a request that could not be read, if one can be sent.
fn read_error_answer(error: &ReadError) -> Option<ApiError> {
    let status = error.status()?;
    let code = match status {
        408 => "request_timeout",
        411 => "length_required",
        413 => "request_too_large",
        431 => "headers_too_large",
        _ => "bad_request",
    };
    Some(ApiError::status(status, code, error.to_string()))
}

fn answer_read_error(stream: &TcpStream, error: &ReadError) {
    if let Some(answer) = read_error_answer(error) {
        let mut writer = stream;
        let _ = send_error(&mut writer, &answer);
        http::close_gracefully(stream, CLOSE_LINGER);
    }
}

fn read_error_outcome(error: ReadError) -> Outcome {
    match read_error_answer(&error) {
        Some(answer) => Outcome::Error(answer),
        None => Outcome::Aborted(error.to_string()),
    }
}

fn speech(shared: &Shared, stream: &TcpStream, reader: &mut DeadlineReader<'_>, head: &Head) -> Outcome {
    let limits = &shared.config.limits;
    let length = match http::body_length(head, limits.max_body_bytes) {
        Ok(n) => n,
        Err(e) => return read_error_outcome(e),
    };
    let mut writer = stream;
    if head.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        if let Err(e) = std::io::Write::write_all(&mut writer, b"HTTP/1.1 100 Continue\r\n\r\n") {
            return Outcome::Aborted(format!("write failed: {e}"));
        }
    }
    let body = match reader.read_body(length) {
        Ok(body) => body,
        Err(e) => return read_error_outcome(e),
    };
    let request = match api::parse_speech(&body, limits) {
        Ok(r) => r,
        Err(e) => return Outcome::Error(e),
    };
    let Some(spec) = shared.voices.get(&request.voice) else {
        let mut names: Vec<&str> = shared.config.voices.iter().map(|v| v.name.as_str()).collect();
        names.sort_unstable();
        return Outcome::Error(ApiError::invalid(
            Some("voice"),
            "voice_not_found",
            format!("unknown voice `{}`; this server offers: {}", request.voice, names.join(", ")),
        ));
    };
    if shared.shutting_down.load(Ordering::SeqCst) {
        return Outcome::Error(shutting_down());
    }
    // The gate again, per request: a record that expired or was revoked, or a
    // pack file changed since start-up, is refused now.
    let voice = match load_voice(&shared.engine, &shared.config, spec) {
        Ok(v) => v,
        Err(e) => return Outcome::Error(ApiError::from_engine(&e, &spec.name)),
    };
    let _permit = match shared.admission.enter() {
        Admit::Granted(permit) => permit,
        Admit::Busy => {
            return Outcome::Error(ApiError {
                retry_after: Some(1),
                kind: "rate_limit_error",
                ..ApiError::status(
                    429,
                    "server_busy",
                    format!(
                        "all {} synthesis slots are busy and {} requests are queued; retry shortly",
                        limits.max_concurrency, limits.queue
                    ),
                )
            })
        }
        Admit::TimedOut => {
            return Outcome::Error(ApiError {
                retry_after: Some(5),
                ..ApiError::status(503, "queue_timeout", format!("waited {:?} in the queue for a synthesis slot", limits.queue_timeout))
            })
        }
        Admit::Closed => return Outcome::Error(shutting_down()),
    };
    stream_speech(shared, stream, &voice, &request)
}

fn shutting_down() -> ApiError {
    ApiError { retry_after: Some(5), ..ApiError::status(503, "shutting_down", "the server is shutting down") }
}

/// Streams marked speech sentence by sentence. The first sentence is
/// synthesized before the status line goes out, so a text the engine cannot
/// speak still gets a proper 400; a failure after that cuts the chunked body
/// short, which clients see as an incomplete response.
fn stream_speech(shared: &Shared, stream: &TcpStream, voice: &Voice, request: &SpeechRequest) -> Outcome {
    let mut pieces = match shared.engine.stream(voice, &request.input, request.speed) {
        Ok(p) => p,
        Err(e) => return Outcome::Error(ApiError::from_engine(&e, &request.voice)),
    };
    let first = match pieces.next() {
        Some(Ok(samples)) => samples,
        Some(Err(e)) => return Outcome::Error(ApiError::from_engine(&e, &request.voice)),
        None => return Outcome::Error(ApiError::invalid(Some("input"), "invalid_input", "nothing to speak")),
    };
    let first = match avow_audio::to_s16le(&first) {
        Ok(bytes) => bytes,
        Err(e) => return Outcome::Error(ApiError::from_engine(&EngineError::Audio(e), &request.voice)),
    };
    let headers = [
        ("Content-Type", request.format.content_type().to_string()),
        ("X-Avow-Watermark", format!("{:08x}", voice.consent().watermark_payload())),
        ("X-Avow-Sample-Rate", avow_engine::SAMPLE_RATE.to_string()),
    ];
    let mut writer = stream;
    let mut body = match ChunkedBody::start(&mut writer, 200, &headers) {
        Ok(b) => b,
        Err(e) => return Outcome::Aborted(format!("write failed: {e}")),
    };
    let mut opening = Vec::with_capacity(44 + first.len());
    if request.format == AudioFormat::Wav {
        opening.extend_from_slice(&api::streaming_wav_header());
    }
    opening.extend_from_slice(&first);
    if let Err(e) = body.send(&opening) {
        return Outcome::Aborted(format!("client stopped reading: {e}"));
    }
    for piece in pieces {
        let bytes = match piece.map_err(|e| e.to_string()).and_then(|s| avow_audio::to_s16le(&s).map_err(|e| e.to_string())) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("avow serve: synthesis failed mid-stream for voice `{}`: {e}", request.voice);
                return Outcome::Aborted(format!("synthesis failed: {e}"));
            }
        };
        // Dropping the stream on a failed write stops synthesis and frees the slot.
        if let Err(e) = body.send(&bytes) {
            return Outcome::Aborted(format!("client stopped reading: {e}"));
        }
    }
    match body.finish() {
        Ok(()) => Outcome::Sent(200),
        Err(e) => Outcome::Aborted(format!("write failed: {e}")),
    }
}
