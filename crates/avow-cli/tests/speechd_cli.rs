//! speech-dispatcher (and so Orca) speaking through avow with the generic
//! module configuration in `docs/speech-dispatcher/avow.conf`.
//!
//! The command line is taken from that file and given the substitutions
//! sd_generic performs (voice and language from its tables, the rate, and the
//! text with every `'` turned into `'\''`), then run by the shell the way
//! sd_generic runs it. Text full of shell metacharacters must reach avow
//! byte for byte and never be executed. A stub `paplay` on `PATH` captures the
//! audio. The last test drives a real, headless speech-dispatcher with
//! `spd-say` when it is installed (`.ci/setup.d/25-speechd.sh`).
//!
//! The tests that run the real model need the converted weights in the model
//! cache; they skip with a message when absent unless `AVOW_REQUIRE_MODELS=1`
//! (CI), which also requires speech-dispatcher.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../../avow-models/tests/support/model_cache.rs"]
mod model_cache;
use model_cache::cache_dir;

fn conf_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/speech-dispatcher/avow.conf")
}

fn require_models() -> bool {
    std::env::var_os("AVOW_REQUIRE_MODELS").is_some()
}

/// The parts of a generic-module configuration these tests need, read the
/// way dotconf reads them (quoted strings with backslash escapes, bare words).
struct GenericConf {
    execute_synth: String,
    rate_force_integer: bool,
    /// speech-dispatcher language code → (name passed as $LANGUAGE, charset).
    languages: HashMap<String, (String, String)>,
    /// (language code, voice type) → voice name.
    voices: HashMap<(String, String), String>,
}

fn dotconf_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut word = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => word.extend(chars.next()),
                    '"' => break,
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word);
    }
    words
}

fn read_conf() -> GenericConf {
    let text = std::fs::read_to_string(conf_path()).unwrap();
    let mut conf = GenericConf { execute_synth: String::new(), rate_force_integer: false, languages: HashMap::new(), voices: HashMap::new() };
    for line in text.lines() {
        let words = dotconf_words(line);
        match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["GenericExecuteSynth", cmd] => conf.execute_synth = cmd.to_string(),
            ["GenericRateForceInteger", v] => conf.rate_force_integer = *v == "1",
            ["GenericLanguage", code, name, charset] => {
                conf.languages.insert(code.to_string(), (name.to_string(), charset.to_string()));
            }
            ["AddVoice", lang, kind, name] => {
                conf.voices.insert((lang.to_string(), kind.to_string()), name.to_string());
            }
            _ => {}
        }
    }
    assert!(conf.execute_synth.contains("$DATA"), "no GenericExecuteSynth with $DATA in {}", conf_path().display());
    conf
}

impl GenericConf {
    /// The shell command sd_generic runs for one chunk of text, built with
    /// its substitutions: tokens replaced in its order, the text spliced in
    /// at `$DATA` with each `'` written as `'\''`.
    fn command(&self, text: &str, language: &str, voice_type: &str, rate: i32) -> String {
        // sd_generic looks the language up as given, then without its region.
        let code = if self.languages.contains_key(language) { language } else { language.split('-').next().unwrap() };
        let (name, charset) = self.languages.get(code).unwrap_or_else(|| panic!("language {language} is not configured"));
        assert_eq!(charset, "utf-8", "{language}: text must reach avow as UTF-8");
        let voice = self.voices.get(&(code.to_string(), voice_type.to_string())).unwrap_or_else(|| panic!("no voice {code}/{voice_type}"));
        let rate = if self.rate_force_integer { format!("{rate}") } else { format!("{:.2}", rate as f32) };
        let mut cmd = self.execute_synth.clone();
        for (token, value) in [
            ("$PLAY_COMMAND", "paplay"),
            ("$TMPDIR", "/tmp"),
            ("$HOMEDIR", "/nonexistent"),
            ("$PITCH", "0.00"),
            ("$PITCH_RANGE", "0.00"),
            ("$RATE", rate.as_str()),
            ("$VOLUME", "100.00"),
            ("$LANGUAGE", name.as_str()),
            ("$PUNCT", ""),
            ("$VOICE", voice.as_str()),
        ] {
            cmd = cmd.replace(token, value);
        }
        let (before, after) = cmd.split_once("$DATA").unwrap();
        format!("{before}{}{after}", text.replace('\'', "'\\''"))
    }
}

/// How each speech-dispatcher version runs the command: 0.11 (Debian 12)
/// with `system()`, newer ones with bash and pipefail.
fn shells(command: &str) -> Vec<(&'static str, Command)> {
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c").arg(command);
    let mut out = vec![("sh", sh)];
    if Path::new("/bin/bash").exists() {
        let mut bash = Command::new("/bin/bash");
        bash.arg("-c").arg(format!("set -o pipefail ; {command}"));
        out.push(("bash", bash));
    }
    out
}

/// Text that would run commands, redirect, background or glob if the shell
/// ever interpreted it. One sentence, so every ledger entry names its hash.
const HOSTILE_TEXT: &str = "It's \"quoted\" $(touch PWNED) and `touch PWNED2`; echo $HOME & true | cat > x \\ 100% %s done.";

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A directory for `PATH` holding a `paplay` that saves its arguments and the
/// audio it is given into `out`.
fn stub_player(bin: &Path, out: &Path) {
    write_script(
        &bin.join("paplay"),
        &format!("printf '%s\\n' \"$@\" > '{0}/paplay.args'\ncat > '{0}/paplay.pcm'", out.display()),
    );
}

fn path_with(bin: &Path) -> std::ffi::OsString {
    let mut path = bin.as_os_str().to_owned();
    if let Some(old) = std::env::var_os("PATH") {
        path.push(":");
        path.push(old);
    }
    path
}

fn no_files_created_by_the_text(dir: &Path) {
    for name in ["PWNED", "PWNED2", "x"] {
        assert!(!dir.join(name).exists(), "the text was executed by the shell: {name} exists");
    }
}

#[test]
fn generic_module_hands_text_voice_language_and_rate_to_avow_unchanged() {
    // No model needed: a stub `avow` records what it was asked to do.
    let conf = read_conf();
    let dir = tempfile::tempdir().unwrap();
    let (bin, out, work) = (dir.path().join("bin"), dir.path().join("out"), dir.path().join("work"));
    for d in [&bin, &out, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    write_script(
        &bin.join("avow"),
        &format!("printf '%s\\n' \"$@\" > '{0}/avow.args'\ncat > '{0}/avow.stdin'\nprintf 'PCM'", out.display()),
    );
    stub_player(&bin, &out);
    // (speech-dispatcher rate, avow speed)
    let rates = [(-100, "0.50"), (-50, "0.75"), (0, "1.00"), (50, "1.75"), (100, "2.50")];
    // (speech-dispatcher language, voice type, avow language, avow voice)
    let voices = [("en", "MALE1", "en-us", "jm_kumo"), ("en-GB", "FEMALE1", "en-gb", "jf_alpha"), ("pt-BR", "FEMALE2", "pt-br", "jf_nezumi"), ("fr-CA", "FEMALE3", "fr", "jf_tebukuro")];
    for ((rate, speed), (lang, kind, avow_lang, avow_voice)) in rates.iter().zip(voices.iter().cycle()) {
        let command = conf.command(HOSTILE_TEXT, lang, kind, *rate);
        for (shell, mut cmd) in shells(&command) {
            let what = format!("{shell}, rate {rate}, {lang}");
            let o = cmd.current_dir(&work).env("PATH", path_with(&bin)).output().unwrap();
            assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
            let args = std::fs::read_to_string(out.join("avow.args")).unwrap();
            let args: Vec<&str> = args.lines().collect();
            assert_eq!(
                args,
                ["say", "--out", "-", "--purpose", "accessibility", "--voice", avow_voice, "--lang", avow_lang, "--speed", speed],
                "{what}"
            );
            assert_eq!(std::fs::read_to_string(out.join("avow.stdin")).unwrap(), HOSTILE_TEXT, "{what}: text changed on its way");
            assert_eq!(std::fs::read(out.join("paplay.pcm")).unwrap(), b"PCM", "{what}: avow's output is not what was played");
            let player = std::fs::read_to_string(out.join("paplay.args")).unwrap();
            assert_eq!(player.lines().take(4).collect::<Vec<_>>(), ["--raw", "--rate=24000", "--format=s16le", "--channels=1"], "{what}");
            no_files_created_by_the_text(&work);
        }
    }
}

fn stock_payload(voice: &str) -> u32 {
    let record = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../voices/{voice}.consent.json"))).unwrap();
    let (_, statement) = avow_consent::parse_record(&record).unwrap();
    u32::from_str_radix(&statement.watermark_fingerprint, 16).unwrap()
}

/// Checks captured s16le PCM: speech of a plausible length carrying `voice`'s watermark.
fn check_marked_pcm(pcm: &[u8], voice: &str) {
    assert!(pcm.len() > 24_000 && pcm.len().is_multiple_of(2), "{} bytes of PCM", pcm.len());
    let samples: Vec<f32> = pcm.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0).collect();
    let detection = avow_watermark::Detector::new(&avow_watermark::Key::default_public()).detect(&samples, 24_000).unwrap();
    assert!(detection.detected, "no watermark in the played audio");
    assert_eq!(detection.payload, Some(stock_payload(voice)));
}

/// The ledger proves avow spoke exactly `sentence`, quotes and all: the
/// stream logs each piece (the opening words of a first sentence come as a
/// piece of their own) with the hash of the sentence it belongs to.
fn assert_ledger_names_exactly(ledger: &Path, sentence: &str) {
    let entries: Vec<serde_json::Value> =
        std::fs::read_to_string(ledger).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!entries.is_empty(), "no ledger entry");
    for e in &entries {
        assert_eq!(e["text_sha256"], avow_consent::sha256_hex(sentence.as_bytes()), "the text changed on its way to avow");
        assert_eq!(e["purpose"], "accessibility");
    }
    avow_consent::ledger::verify(ledger).unwrap();
}

/// A `bin` directory with the real `avow` and a stub player.
fn real_avow_bin(dir: &Path, out: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(out).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_avow"), bin.join("avow")).unwrap();
    stub_player(&bin, out);
    bin
}

#[test]
fn generic_module_command_plays_marked_speech_of_exactly_the_text() {
    let Some(cache) = cache_dir() else { return };
    let conf = read_conf();
    let dir = tempfile::tempdir().unwrap();
    let (out, work) = (dir.path().join("out"), dir.path().join("work"));
    std::fs::create_dir_all(&work).unwrap();
    let bin = real_avow_bin(dir.path(), &out);
    let ledger = dir.path().join("ledger.jsonl");
    let command = conf.command(HOSTILE_TEXT, "en", "FEMALE1", 0);
    let (_, mut cmd) = shells(&command).remove(0);
    let o = cmd
        .current_dir(&work)
        .env("PATH", path_with(&bin))
        .env("AVOW_CACHE_DIR", &cache)
        .env("AVOW_LEDGER", &ledger)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    check_marked_pcm(&std::fs::read(out.join("paplay.pcm")).unwrap(), "jf_alpha");
    no_files_created_by_the_text(&work);
    // The ledger proves avow spoke exactly the text, quotes and all.
    assert_ledger_names_exactly(&ledger, HOSTILE_TEXT);
}

/// Runs `cmd` to completion or kills it after `limit`.
fn run_with_limit(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn find_sd_generic() -> Option<PathBuf> {
    ["/usr/lib/speech-dispatcher-modules/sd_generic", "/usr/libexec/speech-dispatcher-modules/sd_generic"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Kills the speech-dispatcher this test started, whatever happens to the test.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn speech_dispatcher_speaks_through_the_avow_module_headless() {
    let installed = Path::new("/usr/bin/speech-dispatcher").exists() && Path::new("/usr/bin/spd-say").exists();
    let Some(module) = find_sd_generic().filter(|_| installed) else {
        assert!(!require_models(), "AVOW_REQUIRE_MODELS is set but speech-dispatcher is not installed (.ci/setup.d/25-speechd.sh)");
        eprintln!("skipping: speech-dispatcher, spd-say or sd_generic is not installed");
        return;
    };
    let Some(cache) = cache_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out");
    let bin = real_avow_bin(d, &out);
    // A private configuration with avow as the only module, and ALSA sent to a
    // null device so that no sound card or sound server is needed.
    let conf_dir = d.join("conf");
    std::fs::create_dir_all(conf_dir.join("modules")).unwrap();
    std::fs::copy(conf_path(), conf_dir.join("modules/avow.conf")).unwrap();
    std::fs::write(
        conf_dir.join("speechd.conf"),
        "AddModule \"avow\" \"sd_generic\" \"avow.conf\"\nDefaultModule avow\nAudioOutputMethod \"alsa\"\nDefaultLanguage \"en\"\n",
    )
    .unwrap();
    let home = d.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".asoundrc"), "pcm.!default { type null }\n").unwrap();
    let (socket, logs, ledger) = (d.join("speechd.sock"), d.join("log"), d.join("ledger.jsonl"));
    std::fs::create_dir_all(&logs).unwrap();
    let env = |cmd: &mut Command| {
        cmd.env("PATH", path_with(&bin))
            .env("HOME", &home)
            .env("AVOW_CACHE_DIR", &cache)
            .env("AVOW_LEDGER", &ledger)
            .env("SPEECHD_ADDRESS", format!("unix_socket:{}", socket.display()))
            .env_remove("AVOW_TRUST_DIR")
            .env_remove("XDG_RUNTIME_DIR");
    };
    let mut server = Command::new("/usr/bin/speech-dispatcher");
    server
        .args(["--run-single", "--timeout", "120", "--communication-method", "unix_socket"])
        .arg("--socket-path")
        .arg(&socket)
        .arg("--config-dir")
        .arg(&conf_dir)
        .arg("--module-dir")
        .arg(module.parent().unwrap())
        .arg("--log-dir")
        .arg(&logs)
        .arg("--pid-file")
        .arg(d.join("speechd.pid"))
        .current_dir(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    env(&mut server);
    let _server = Server(server.spawn().unwrap());
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "speech-dispatcher did not open {}", socket.display());
        std::thread::sleep(Duration::from_millis(100));
    }

    let text = "Orca's words, spoken through avow; `touch RAN1` and $(touch RAN2) stay words.";
    let mut say = Command::new("/usr/bin/spd-say");
    say.args(["--wait", "--language", "en", "--synthesis-voice", "jf_nezumi", "--rate", "20", text]).current_dir(d);
    env(&mut say);
    let o = run_with_limit(&mut say, Duration::from_secs(600));
    let module_log = std::fs::read_to_string(logs.join("avow.log")).unwrap_or_default();
    assert!(o.status.success(), "spd-say failed: {}\nmodule log:\n{module_log}", String::from_utf8_lossy(&o.stderr));
    let pcm = std::fs::read(out.join("paplay.pcm"))
        .unwrap_or_else(|e| panic!("nothing was played ({e}); speech-dispatcher logs in {}:\n{module_log}", logs.display()));
    check_marked_pcm(&pcm, "jf_nezumi");
    for name in ["RAN1", "RAN2"] {
        assert!(!d.join(name).exists(), "the text was executed: {name} exists");
    }
    assert_ledger_names_exactly(&ledger, text);
}
