//! `ModelCache::import`: the original PyTorch release as a source of weights
//! and voice packs. Small checkpoints come from avow-kokoro's fixtures; the
//! full-size round trip writes a complete `kokoro-v1_0.pth` in Rust from the
//! ONNX-derived weights of the model cache (skipped without it, unless
//! `AVOW_REQUIRE_MODELS=1`).

use std::io::Write;
use std::path::{Path, PathBuf};

use avow_kokoro::convert::serialize;
use avow_kokoro::convert_pth::{pth_to_weights_with, read_voice_pt, Layout};
use avow_models::{FileKind, FileState, ImportOptions, Manifest, ModelCache, ModelsError};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../avow-kokoro/tests/fixtures/pth").join(name)
}

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn voices(paths: &[PathBuf]) -> ImportOptions {
    ImportOptions { voices: paths.to_vec(), ..Default::default() }
}

#[test]
fn voices_become_packs_in_the_cache_that_verify_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("voices");
    std::fs::create_dir(&src).unwrap();
    std::fs::copy(fixture("jf_nezumi.pt"), src.join("af_nezumi.pt")).unwrap();
    std::fs::copy(fixture("jf_nezumi.pt"), src.join("bm_other.pt")).unwrap();
    std::fs::write(src.join("notes.txt"), "not a voice").unwrap();
    let cache_dir = tmp.path().join("cache");
    let cache = ModelCache::new(&cache_dir);

    let report = cache.import(&voices(std::slice::from_ref(&src))).unwrap();
    let paths: Vec<&str> = report.written.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["voices/af_nezumi.voicepack", "voices/bm_other.voicepack"]);

    let style = read_voice_pt(&fixture("jf_nezumi.pt")).unwrap();
    for (name, language) in [("af_nezumi", "en-us"), ("bm_other", "en-gb")] {
        let bytes = std::fs::read(cache_dir.join(format!("voices/{name}.voicepack"))).unwrap();
        let pack = avow_voice::VoicePackData::from_bytes(&bytes).unwrap();
        assert_eq!((pack.meta.name.as_str(), pack.meta.language.as_str()), (name, language));
        assert_eq!(pack.meta.model, cache.spec().model_id);
        assert_eq!(pack.style, style);
    }
    let m = manifest(&cache_dir);
    assert!(m.is_imported("voices/af_nezumi.voicepack"));
    assert!(m.imported["voices/bm_other.voicepack"].starts_with("import:bm_other.pt sha256:"));
    let rows = cache.verify(false).unwrap();
    for path in paths {
        let row = rows.iter().find(|r| r.path == path).unwrap();
        assert_eq!((row.state, row.kind), (FileState::Ok, FileKind::Voice), "{path}");
    }

    // `--voice-language` overrides the naming convention; a changed pack is re-recorded.
    let report = cache
        .import(&ImportOptions { voice_language: Some("fr".into()), ..voices(&[src.join("af_nezumi.pt")]) })
        .unwrap();
    assert_eq!(report.written.len(), 1);
    let pack = avow_voice::VoicePackData::from_bytes(&std::fs::read(cache_dir.join("voices/af_nezumi.voicepack")).unwrap()).unwrap();
    assert_eq!(pack.meta.language, "fr");
    assert!(cache.verify(false).unwrap().iter().find(|r| r.path == "voices/af_nezumi.voicepack").unwrap().state == FileState::Ok);
}

#[test]
fn a_voice_without_a_known_language_prefix_needs_one() {
    let tmp = tempfile::tempdir().unwrap();
    let voice = tmp.path().join("myvoice.pt");
    std::fs::copy(fixture("jf_nezumi.pt"), &voice).unwrap();
    let cache = ModelCache::new(tmp.path().join("cache"));
    let err = cache.import(&voices(&[voice])).unwrap_err();
    assert!(err.to_string().contains("--voice-language"), "{err}");
    assert!(!tmp.path().join("cache").exists(), "nothing may be written for refused input");
}

#[test]
fn a_stock_voice_pack_is_never_replaced_by_a_different_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cache_dir = tmp.path().join("cache");
    let cache = ModelCache::new(&cache_dir);
    let pack_path = cache_dir.join("voices/jf_nezumi.voicepack");
    std::fs::create_dir_all(pack_path.parent().unwrap()).unwrap();
    std::fs::write(&pack_path, b"the fetched stock pack").unwrap();

    let err = cache.import(&voices(&[fixture("jf_nezumi.pt")])).unwrap_err();
    assert!(matches!(err, ModelsError::Import(_)) && err.to_string().contains("stock voice"), "{err}");
    assert_eq!(std::fs::read(&pack_path).unwrap(), b"the fetched stock pack");
    assert!(!cache_dir.join("manifest.json").exists());

    // The same bytes as the stock pack are accepted and left alone.
    let same = avow_voice::VoicePackData {
        meta: avow_voice::VoiceMeta { name: "jf_nezumi".into(), language: "ja".into(), model: cache.spec().model_id.clone() },
        style: read_voice_pt(&fixture("jf_nezumi.pt")).unwrap(),
        adapters: vec![],
        speaker: None,
    };
    std::fs::write(&pack_path, same.to_bytes().unwrap()).unwrap();
    let report = cache.import(&voices(&[fixture("jf_nezumi.pt")])).unwrap();
    assert_eq!(report.unchanged, ["voices/jf_nezumi.voicepack"]);
    assert!(report.written.is_empty());
}

/// A cache whose `.pth` converter checks only the tensors of the mini fixture.
fn mini_cache(dir: &Path) -> ModelCache {
    let expected = std::fs::read(fixture("expected.safetensors")).unwrap();
    let names: Vec<String> = safetensors::SafeTensors::deserialize(&expected).unwrap().names().into_iter().map(String::from).collect();
    let layout = Layout::kokoro_v1().filtered(move |n| names.iter().any(|m| m == n));
    ModelCache::new(dir).with_pth_converter(Box::new(move |path, progress| {
        let (weights, report) = pth_to_weights_with(path, &layout, progress).map_err(|e| e.to_string())?;
        Ok((serialize(&weights).map_err(|e| e.to_string())?, report))
    }))
}

#[test]
fn imported_weights_are_recorded_and_stand_in_for_the_onnx_model() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = mini_cache(tmp.path());
    let report = cache.import(&ImportOptions { checkpoint: Some(fixture("kokoro-mini.pth")), ..Default::default() }).unwrap();
    let pth = report.weights.as_ref().unwrap();
    assert_eq!(pth.folded.len(), 4);
    assert_eq!(pth.extra, ["bert.embeddings.position_ids", "bert.pooler.bias"]);
    assert!(!report.compared_with_onnx, "there were no ONNX-derived weights to compare with");

    let m = manifest(tmp.path());
    let entry = m.get("kokoro-82m-v1.0.safetensors").unwrap();
    assert!(m.is_imported(&entry.path) && m.imported[&entry.path].starts_with("import:kokoro-mini.pth sha256:"));
    let rows = cache.verify(false).unwrap();
    let row = |p: &str| rows.iter().find(|r| r.path == p).unwrap().clone();
    assert_eq!(row("kokoro-82m-v1.0.safetensors").state, FileState::Ok);
    let onnx = row("kokoro-v1.0.int8.onnx");
    assert!(!onnx.required && onnx.acceptable(), "imported weights need no ONNX model");

    // A changed weights file is caught by verify like any other.
    let weights = tmp.path().join("kokoro-82m-v1.0.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    assert_eq!(cache.verify(false).unwrap().iter().find(|r| r.path == entry.path).unwrap().state, FileState::Mismatch);
}

#[test]
fn weights_that_differ_from_the_onnx_derived_ones_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    // ONNX-derived weights with a single tensor, recorded as built by fetch.
    let only = [("bert.embeddings.LayerNorm.bias".to_string(), (vec![128], vec![0f32; 128]))].into_iter().collect();
    let old = serialize(&only).unwrap();
    let weights = tmp.path().join("kokoro-82m-v1.0.safetensors");
    std::fs::write(&weights, &old).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&old));
    let m = serde_json::json!({"format": "avow-models/1", "model": "kokoro-82m-v1.0", "files": [
        {"path": "kokoro-82m-v1.0.safetensors", "kind": "weights", "sha256": sha, "size": old.len()}]});
    std::fs::write(tmp.path().join("manifest.json"), m.to_string()).unwrap();

    let cache = mini_cache(tmp.path());
    let err = cache.import(&ImportOptions { checkpoint: Some(fixture("kokoro-mini.pth")), ..Default::default() }).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("do not match the ONNX-derived ones") && msg.contains("extra "), "{msg}");
    assert_eq!(std::fs::read(&weights).unwrap(), old, "the cached weights must be left alone");
}

#[test]
fn a_broken_checkpoint_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("kokoro-v1_0.pth");
    let good = std::fs::read(fixture("kokoro-mini.pth")).unwrap();
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    let cache_dir = tmp.path().join("cache");
    let err = ModelCache::new(&cache_dir)
        .import(&ImportOptions { checkpoint: Some(cut), ..Default::default() })
        .unwrap_err();
    assert!(err.to_string().contains("truncated or corrupted"), "{err}");
    assert!(!cache_dir.exists());
    // The real layout refuses a partial checkpoint, naming what it lacks.
    let err = ModelCache::new(&cache_dir)
        .import(&ImportOptions { checkpoint: Some(fixture("kokoro-mini.pth")), ..Default::default() })
        .unwrap_err();
    assert!(err.to_string().contains("lacks 437 canonical tensor(s)"), "{err}");
    assert!(!cache_dir.exists());
}

// ---------------------------------------------------------------------------
// Full size: a complete release-format checkpoint written here in Rust.

/// Minimal pickle (protocol 2) writer for what `torch.save` emits for a dict
/// of state dicts.
struct Pickle(Vec<u8>);

impl Pickle {
    fn op(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.0.push(b'X');
        self.0.extend((s.len() as u32).to_le_bytes());
        self.0.extend(s.as_bytes());
        self
    }
    fn int(&mut self, v: usize) -> &mut Self {
        self.0.push(b'J');
        self.0.extend((v as i32).to_le_bytes());
        self
    }
    fn global(&mut self, module: &str, name: &str) -> &mut Self {
        self.0.push(b'c');
        self.0.extend(format!("{module}\n{name}\n").as_bytes());
        self
    }
    fn tuple(&mut self, items: &[usize]) -> &mut Self {
        self.op(b'(');
        for &i in items {
            self.int(i);
        }
        self.op(b't')
    }
    fn ordered_dict(&mut self) -> &mut Self {
        self.global("collections", "OrderedDict").op(b')').op(b'R')
    }
    /// `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`.
    fn tensor(&mut self, key: &str, shape: &[usize]) -> &mut Self {
        let numel = shape.iter().product();
        let mut stride = vec![1; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            stride[i] = stride[i + 1] * shape[i + 1];
        }
        self.global("torch._utils", "_rebuild_tensor_v2").op(b'(');
        self.op(b'(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op(b't').op(b'Q');
        self.int(0).tuple(shape).tuple(&stride).op(0x89).ordered_dict();
        self.op(b't').op(b'R')
    }
}

/// Writes `weights` as the release does: `{section: OrderedDict("module." + name: tensor)}`,
/// with every 3-D convolution weight stored as a `weight_g`/`weight_v` pair
/// (dim 0, `v` scaled per channel so only a correct fold restores it).
/// Returns how many weight-norm pairs it wrote.
fn write_release_checkpoint(path: &Path, weights: &safetensors::SafeTensors) -> usize {
    let mut pairs = 0;
    let mut storages: Vec<(String, Vec<u8>)> = Vec::new();
    let mut pickle = Pickle(vec![0x80, 2]);
    pickle.op(b'}').op(b'(');
    for section in ["bert", "bert_encoder", "predictor", "text_encoder", "decoder"] {
        pickle.str(section).ordered_dict().op(b'(');
        let mut names: Vec<String> =
            weights.names().into_iter().filter(|n| n.starts_with(&format!("{section}."))).map(String::from).collect();
        names.sort();
        for name in names {
            if name.contains(".stft.") {
                continue; // graph constants of the ONNX export, not in the release
            }
            let view = weights.tensor(&name).unwrap();
            let shape = view.shape().to_vec();
            let local = format!("module.{}", &name[section.len() + 1..]);
            let values: Vec<f32> = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            let normed = shape.len() == 3 && name.ends_with(".weight") && !name.contains("noise_convs") && !name.contains("_proj");
            let mut put = |local: &str, shape: &[usize], values: &[f32], pickle: &mut Pickle| {
                let key = storages.len().to_string();
                pickle.str(local).tensor(&key, shape);
                storages.push((key, values.iter().flat_map(|v| v.to_le_bytes()).collect()));
            };
            if normed {
                pairs += 1;
                let inner = shape[1] * shape[2];
                let mut g = vec![0f32; shape[0]];
                let mut v = values.clone();
                for c in 0..shape[0] {
                    let row = &mut v[c * inner..(c + 1) * inner];
                    g[c] = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                    let scale = 0.5 + (c % 7) as f32 * 0.4;
                    row.iter_mut().for_each(|x| *x *= scale);
                }
                let base = local.trim_end_matches("weight");
                put(&format!("{base}weight_g"), &[shape[0], 1, 1], &g, &mut pickle);
                put(&format!("{base}weight_v"), &shape, &v, &mut pickle);
            } else {
                put(&local, &shape, &values, &mut pickle);
            }
        }
        pickle.op(b'u');
    }
    pickle.op(b'u').op(b'.');

    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(path).unwrap()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut member = |name: &str, bytes: &[u8]| {
        zip.start_file(format!("kokoro-v1_0/{name}"), stored).unwrap();
        zip.write_all(bytes).unwrap();
    };
    member("data.pkl", &pickle.0);
    member("byteorder", b"little");
    for (key, bytes) in &storages {
        member(&format!("data/{key}"), bytes);
    }
    member("version", b"3\n");
    zip.finish().unwrap();
    pairs
}

/// Hard-links (or copies) the fetched cache into `dir`, leaving the shared cache untouched.
fn clone_cache(from: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in ["manifest.json", "vocab.json", "kokoro-82m-v1.0.safetensors", "kokoro-v1.0.int8.onnx", "voices"] {
        let src = from.join(entry);
        if src.is_dir() {
            std::fs::create_dir_all(dir.join(entry)).unwrap();
            for f in std::fs::read_dir(&src).unwrap() {
                let f = f.unwrap().path();
                let dest = dir.join(entry).join(f.file_name().unwrap());
                std::fs::hard_link(&f, &dest).or_else(|_| std::fs::copy(&f, &dest).map(|_| ())).unwrap();
            }
        } else {
            std::fs::hard_link(&src, dir.join(entry)).or_else(|_| std::fs::copy(&src, dir.join(entry)).map(|_| ())).unwrap();
        }
    }
}

#[test]
fn a_full_release_checkpoint_round_trips_through_the_cache() {
    let shared = ModelCache::default_dir().unwrap();
    let source = shared.join("kokoro-82m-v1.0.safetensors");
    if !source.is_file() || !shared.join("manifest.json").is_file() {
        assert!(std::env::var_os("AVOW_REQUIRE_MODELS").is_none(), "AVOW_REQUIRE_MODELS is set but {} is absent", source.display());
        eprintln!("skipping: no fetched model cache (run `avow models fetch`)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache_dir = tmp.path().join("cache");
    clone_cache(&shared, &cache_dir);
    let original = std::fs::read(&source).unwrap();
    let original = safetensors::SafeTensors::deserialize(&original).unwrap();
    let pth = tmp.path().join("kokoro-v1_0.pth");
    let pairs = write_release_checkpoint(&pth, &original);

    let cache = ModelCache::new(&cache_dir);
    let report = cache.import(&ImportOptions { checkpoint: Some(pth), ..Default::default() }).unwrap();
    assert!(report.compared_with_onnx, "the ONNX-derived weights were there to compare with");
    let pth_report = report.weights.unwrap();
    assert_eq!(pth_report.folded.len(), pairs);
    assert!(pth_report.extra.is_empty(), "{:?}", pth_report.extra);
    assert_eq!(pth_report.derived.len(), 2);

    let imported = std::fs::read(cache_dir.join("kokoro-82m-v1.0.safetensors")).unwrap();
    let imported = safetensors::SafeTensors::deserialize(&imported).unwrap();
    assert_eq!(imported.len(), original.len());
    let mut worst = 0f32;
    for (name, view) in original.tensors() {
        let got = imported.tensor(&name).unwrap();
        assert_eq!(got.shape(), view.shape(), "{name}");
        let as_f32 = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>();
        let (a, b) = (as_f32(got.data()), as_f32(view.data()));
        let scale = b.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
        worst = worst.max(a.iter().zip(&b).map(|(x, y)| (x - y).abs() / scale).fold(0f32, f32::max));
    }
    eprintln!("largest difference after import, relative to each tensor's range: {worst:e}");
    assert!(worst < 1e-5, "largest difference relative to each tensor's range: {worst}");

    // The cache verifies, and works without the ONNX model.
    assert!(cache.verify(false).unwrap().iter().all(|r| r.acceptable()));
    std::fs::remove_file(cache_dir.join("kokoro-v1.0.int8.onnx")).unwrap();
    let files = cache.ensure(false).unwrap();
    assert_eq!(files.weights, cache_dir.join("kokoro-82m-v1.0.safetensors"));
    assert!(cache.verify(false).unwrap().iter().all(|r| r.acceptable()));
}
