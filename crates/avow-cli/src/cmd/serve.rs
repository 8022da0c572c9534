//! `avow serve`: the local OpenAI-compatible speech service (see docs/serve.md).

use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use avow_engine::{ConsentGate, Engine, EngineError, EngineOptions};
use avow_serve::{Limits, ServeConfig, ServeError, Server, VoiceSource};

/// Arguments of `avow serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the bound address is printed on standard output).
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// Allow listening on a non-loopback address. The service has no TLS and
    /// no authentication: anyone who can reach the port can synthesize.
    #[arg(long)]
    allow_remote: bool,
    /// The consent purpose every request is verified for (aac, accessibility, dubbing, narration, research).
    #[arg(long, default_value = "accessibility")]
    purpose: String,
    /// Language every voice speaks unless the voices file says otherwise (en-us, en-gb, es, fr, it, pt-br, hi).
    #[arg(long, default_value = "en-us")]
    lang: String,
    /// JSON file listing voice packs and their consent records (see docs/serve.md).
    #[arg(long)]
    voices: Option<PathBuf>,
    /// Do not offer the stock voices (only those in --voices).
    #[arg(long)]
    no_stock_voices: bool,
    /// Syntheses running at once (default: the number of CPU cores).
    #[arg(long)]
    max_concurrency: Option<usize>,
    /// Requests that may wait for a free slot; beyond that, 429 (default: twice --max-concurrency).
    #[arg(long)]
    queue: Option<usize>,
    /// Seconds a queued request waits for a slot before it gets 503.
    #[arg(long, default_value_t = 60)]
    queue_timeout: u64,
    /// Largest `input` in characters.
    #[arg(long, default_value_t = 4096)]
    max_input_chars: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// Seconds a client has to send its whole request.
    #[arg(long, default_value_t = 15)]
    request_timeout: u64,
    /// Seconds a write to a client may block before the response is dropped.
    #[arg(long, default_value_t = 30)]
    write_timeout: u64,
    /// Open connections at once; beyond that, 503.
    #[arg(long, default_value_t = 64)]
    max_connections: usize,
    /// Model cache directory (default: $AVOW_CACHE_DIR, then ~/.cache/avow).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Directory of trusted issuer keys (repeatable). Replaces the default trust
    /// roots ($AVOW_TRUST_DIR, ~/.config/avow/trust and the built-in stock-voice key):
    /// copy consent/trust/avow-stock.pub into it to keep the stock voices.
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// Directory of revocation statements (repeatable; replaces $AVOW_REVOCATION_DIR
    /// and ~/.config/avow/revoked). Read again for every request.
    #[arg(long, value_name = "DIR", alias = "revoked")]
    revocations: Vec<PathBuf>,
    /// Audit ledger file (default: $AVOW_LEDGER, then ~/.local/share/avow/ledger.jsonl).
    #[arg(long)]
    ledger: Option<PathBuf>,
}

/// Runs `avow serve` until SIGINT or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let purpose = avow_engine::ConsentPurpose::parse(&args.purpose)
        .with_context(|| format!("unknown purpose `{}` (aac, accessibility, dubbing, narration, research)", args.purpose))?;
    avow_engine::check_language(&args.lang)?;
    let listen = resolve_listen(&args.listen)?;
    if !listen.ip().is_loopback() {
        if !args.allow_remote {
            bail!(
                "refusing to listen on {listen}: it is not a loopback address and the service has no authentication; \
                 pass --allow-remote to expose it anyway"
            );
        }
        eprintln!("avow serve: WARNING: listening on {listen}, reachable from other machines; there is no TLS and no authentication");
    }
    let defaults = Limits::default();
    let max_concurrency = args.max_concurrency.unwrap_or(defaults.max_concurrency);
    let limits = Limits {
        max_concurrency,
        queue: args.queue.unwrap_or(2 * max_concurrency),
        queue_timeout: Duration::from_secs(args.queue_timeout),
        max_input_chars: args.max_input_chars,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout),
        write_timeout: Duration::from_secs(args.write_timeout),
        max_connections: args.max_connections,
    };
    let mut voices = if args.no_stock_voices { Vec::new() } else { ServeConfig::stock_voices(&args.lang) };
    if let Some(file) = &args.voices {
        voices.extend(avow_serve::read_voices_file(file, &args.lang)?);
    }
    let config = ServeConfig { listen, purpose, voices, limits };
    // Cheap checks before the model loads.
    config.check()?;

    let options = EngineOptions {
        cache_dir: args.cache_dir.clone(),
        trust_dirs: args.trust.clone(),
        revocation_dirs: args.revocations.clone(),
        ledger: args.ledger.clone(),
        progress: std::io::stderr().is_terminal(),
    };
    // Every voice through the consent gate before the model loads, so that a
    // refused record stops the start in milliseconds; `Server::bind` checks
    // them again against the loaded engine (adapters need the model).
    let gate = ConsentGate::open(&options)?;
    for spec in &config.voices {
        let checked = match &spec.source {
            VoiceSource::Stock => gate.stock_voice(&spec.name, purpose, &spec.language),
            VoiceSource::Pack { pack, consent } => gate.load_voice(pack, consent, purpose, &spec.language),
        };
        if let Err(source) = checked {
            return refused_or_error(ServeError::Voice { name: spec.name.clone(), source });
        }
    }
    let engine = Engine::with_gate(gate)?;
    let server = match Server::bind(engine, config) {
        Ok(s) => s,
        Err(e) => return refused_or_error(e),
    };
    let handle = server.shutdown_handle();
    watch_signals(handle)?;
    // Scripts and tests read the bound address (the port may have been 0) from this line.
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", server.local_addr()).context("cannot write to standard output")?;
    out.flush().context("cannot write to standard output")?;
    drop(out);
    server.run()?;
    eprintln!("avow serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// A voice refused by the consent gate ends the start with its consent exit
/// code; any other failure is an error.
fn refused_or_error(e: ServeError) -> anyhow::Result<ExitCode> {
    match e {
        ServeError::Voice { name, source: EngineError::Consent(e) } => {
            eprintln!("avow: consent refused for voice `{name}`: {e}");
            Ok(ExitCode::from(e.exit_code()))
        }
        e => Err(e.into()),
    }
}

fn resolve_listen(text: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let mut addrs = text.to_socket_addrs().with_context(|| format!("--listen `{text}` is not HOST:PORT"))?;
    addrs.next().with_context(|| format!("--listen `{text}` resolves to no address"))
}

/// First SIGINT/SIGTERM: graceful shutdown. A second one: exit at once.
fn watch_signals(handle: avow_serve::ShutdownHandle) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).context("cannot install signal handlers")?;
    std::thread::Builder::new()
        .name("avow-serve-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if handle.is_shutting_down() {
                    eprintln!("avow serve: second signal, exiting now");
                    std::process::exit(128 + signal);
                }
                eprintln!("avow serve: shutting down; finishing running requests (signal again to exit now)");
                handle.shutdown();
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
