//! Importer for the original PyTorch release of Kokoro-82M
//! (`kokoro-v1_0.pth` and `voices/*.pt`), mapping it to the same canonical
//! safetensors layout the ONNX importer ([`crate::convert`]) produces.
//!
//! The checkpoint is a zip-format `torch.save` of a dict with one state dict
//! per sub-network (`bert`, `bert_encoder`, `predictor`, `text_encoder`,
//! `decoder`). Keys may carry the `module.` prefix of a DataParallel model.
//! Weight-normed convolutions are stored un-folded as `weight_g`/`weight_v`
//! pairs and are folded here (`weight = g · v / ‖v‖`, the norm taken over
//! every axis but the one `g` spans). LSTMs are already in PyTorch gate order.
//!
//! The pickle is decoded by a small, defensive unpickler of our own (the
//! opcodes `torch.save` emits) into `candle_core::pickle`'s object model, so
//! candle's tensor descriptions apply; candle's own reader is not used because
//! malformed files can make it panic. Tensor data is read from the zip
//! members here, so strided views, offsets and truncated members are handled
//! with clear errors instead of being trusted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use candle_core::pickle::Object;
use candle_core::{DType, Device, Tensor};

use crate::convert::{serialize, ConvertError, Weights};

/// The sub-networks of the release checkpoint, each a state dict.
pub const TOP_LEVEL_KEYS: [&str; 5] = ["bert", "bert_encoder", "predictor", "text_encoder", "decoder"];

/// Shape of a voice tensor in `voices/*.pt`: one style vector per utterance length.
pub const VOICE_SHAPE: [usize; 3] = [510, 1, 256];

/// Names the ONNX export carries as graph constants of its inverse STFT; the
/// PyTorch model computes them on the fly, so they are derived here.
const ISTFT_BASIS: &str = "decoder.generator.stft.istft.stft.inverse_basis";
const ISTFT_WINDOW_SUM: &str = "decoder.generator.stft.istft.stft.window_sum";
/// The generator's STFT: 20-point FFT, hop 5, periodic Hann window.
const N_FFT: usize = 20;
const HOP: usize = 5;

/// How many names an error message lists before summarizing the rest.
const LISTED: usize = 12;

/// Errors importing a PyTorch checkpoint or voice.
#[derive(Debug, thiserror::Error)]
pub enum PthError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file predates PyTorch 1.6's zip format.
    #[error(
        "{} is a legacy (pre-zip) torch.save file, which this importer does not read; \
         re-save it with a current PyTorch: torch.save(torch.load(path), path)",
        path.display()
    )]
    Legacy {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a PyTorch checkpoint at all.
    #[error("{} is not a PyTorch checkpoint (expected a zip-format torch.save file): {detail}", path.display())]
    NotCheckpoint {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// The zip or its pickle is damaged or cut short.
    #[error("{} is truncated or corrupted: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The pickled object is not laid out like the Kokoro release.
    #[error("{} does not look like a Kokoro checkpoint: {detail}", path.display())]
    Structure {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Canonical tensors the checkpoint does not provide.
    #[error("the checkpoint lacks {} canonical tensor(s): {}", missing.len(), list(missing))]
    Missing {
        /// Canonical names, sorted.
        missing: Vec<String>,
    },
    /// A tensor whose shape differs from the canonical layout.
    #[error("tensor `{name}` has shape {found:?}, the canonical layout expects {expected:?}")]
    Shape {
        /// Canonical name.
        name: String,
        /// Canonical shape.
        expected: Vec<usize>,
        /// Shape in the checkpoint (for weight norm, of `weight_v`).
        found: Vec<usize>,
    },
    /// A weight-norm pair that cannot be folded.
    #[error("weight norm of `{name}`: {detail}")]
    WeightNorm {
        /// Canonical name of the folded weight.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A tensor of a type that cannot be a model weight.
    #[error("tensor `{name}` has dtype {dtype:?}; canonical weights are floating point")]
    Dtype {
        /// Name in the checkpoint.
        name: String,
        /// Its dtype.
        dtype: DType,
    },
    /// The canonical layout text is malformed.
    #[error("canonical layout line {line}: {detail}")]
    Layout {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// Writing safetensors failed.
    #[error(transparent)]
    Serialize(#[from] ConvertError),
}

fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(LISTED).map(String::as_str).collect();
    match names.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Tensor names and shapes of the canonical layout (all f32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    tensors: BTreeMap<String, Vec<usize>>,
}

/// How a set of weights differs from a [`Layout`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayoutDiff {
    /// Canonical names absent from the weights.
    pub missing: Vec<String>,
    /// Names in the weights the layout does not have.
    pub extra: Vec<String>,
    /// Names present in both with different shapes: (name, expected, found).
    pub misshapen: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl LayoutDiff {
    /// True when the weights match the layout exactly.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.misshapen.is_empty()
    }
}

impl Layout {
    /// The layout of Kokoro-82M v1.0 as the ONNX importer writes it
    /// (`canonical_layout.txt`, generated from ONNX-derived weights).
    pub fn kokoro_v1() -> Self {
        // The text is part of the source; tests parse it, so this cannot fail
        // for a build that passed them.
        Self::parse(include_str!("canonical_layout.txt")).unwrap_or_else(|e| panic!("built-in layout: {e}"))
    }

    /// Parses `name dim,dim,...` lines; `#` starts a comment line.
    pub fn parse(text: &str) -> Result<Self, PthError> {
        let mut tensors = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |detail: String| PthError::Layout { line: i + 1, detail };
            let (name, dims) = line.split_once(' ').ok_or_else(|| bad("expected `name dims`".into()))?;
            let shape = dims
                .split(',')
                .map(|d| d.trim().parse::<usize>().map_err(|e| bad(format!("dimension `{d}`: {e}"))))
                .collect::<Result<Vec<_>, _>>()?;
            if tensors.insert(name.to_string(), shape).is_some() {
                return Err(bad(format!("`{name}` listed twice")));
            }
        }
        Ok(Self { tensors })
    }

    /// Builds a layout from names and shapes (e.g. read from a safetensors header).
    pub fn from_shapes(shapes: impl IntoIterator<Item = (String, Vec<usize>)>) -> Self {
        Self { tensors: shapes.into_iter().collect() }
    }

    /// The part of this layout whose names satisfy `keep` (for partial
    /// checkpoints such as test fixtures).
    pub fn filtered(&self, keep: impl Fn(&str) -> bool) -> Self {
        Self { tensors: self.tensors.iter().filter(|(n, _)| keep(n)).map(|(n, s)| (n.clone(), s.clone())).collect() }
    }

    /// The shape of a canonical tensor.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(Vec::as_slice)
    }

    /// Canonical names with their shapes, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.tensors.iter().map(|(n, s)| (n.as_str(), s.as_slice()))
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// True for a layout without tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Compares names and shapes of `shapes` with this layout.
    pub fn diff<'a>(&self, shapes: impl IntoIterator<Item = (&'a str, &'a [usize])>) -> LayoutDiff {
        let mut diff = LayoutDiff::default();
        let mut seen = BTreeSet::new();
        for (name, shape) in shapes {
            seen.insert(name);
            match self.tensors.get(name) {
                None => diff.extra.push(name.to_string()),
                Some(expected) if expected.as_slice() != shape => {
                    diff.misshapen.push((name.to_string(), expected.clone(), shape.to_vec()))
                }
                Some(_) => {}
            }
        }
        diff.missing = self.tensors.keys().filter(|n| !seen.contains(n.as_str())).cloned().collect();
        diff.extra.sort();
        diff.misshapen.sort();
        diff
    }
}

/// What an import did besides producing the weights.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PthReport {
    /// Checkpoint entries (canonical naming, `module.` stripped) the layout
    /// does not use and that were left out, e.g. `bert.pooler.weight`.
    pub extra: Vec<String>,
    /// Canonical weights folded from `weight_g`/`weight_v` pairs.
    pub folded: Vec<String>,
    /// Canonical tensors computed here because the release does not store
    /// them (the inverse-STFT constants of the ONNX graph).
    pub derived: Vec<String>,
}

/// An open zip-format torch file with its unpickled root object.
struct TorchFile {
    path: PathBuf,
    zip: zip::ZipArchive<BufReader<std::fs::File>>,
    /// `<archive name>/data`: where the storages live.
    data_dir: String,
    root: Object,
}

impl TorchFile {
    fn open(path: &Path) -> Result<Self, PthError> {
        let io = |source| PthError::Io { path: path.to_path_buf(), source };
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut magic = [0u8; 4];
        let got = read_up_to(&mut file, &mut magic).map_err(io)?;
        match &magic[..got] {
            [b'P', b'K', 3, 4] => {}
            // A pickle protocol 2 header: the legacy tar-less torch format.
            [0x80, 0x02, ..] => return Err(PthError::Legacy { path: path.to_path_buf() }),
            [] => return Err(PthError::NotCheckpoint { path: path.to_path_buf(), detail: "the file is empty".into() }),
            other => {
                return Err(PthError::NotCheckpoint {
                    path: path.to_path_buf(),
                    detail: format!("it starts with bytes {other:02x?}"),
                })
            }
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let corrupt = |detail: String| PthError::Corrupt { path: path.to_path_buf(), detail };
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| corrupt(format!("zip: {e}")))?;
        let names = zip.file_names().collect::<Result<Vec<_>, _>>().map_err(|e| corrupt(format!("zip: {e}")))?;
        let pickles: Vec<String> = names
            .iter()
            .filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
            .map(|n| n.to_string())
            .collect();
        let [pickle] = pickles.as_slice() else {
            return Err(PthError::Structure {
                path: path.to_path_buf(),
                detail: format!("expected one `<name>/data.pkl` member, found {}", pickles.len()),
            });
        };
        let prefix = pickle.trim_end_matches("/data.pkl").to_string();
        if let Ok(mut order) = zip.by_name(&format!("{prefix}/byteorder")) {
            let mut text = String::new();
            order.read_to_string(&mut text).map_err(|e| corrupt(format!("byteorder: {e}")))?;
            if text.trim() != "little" {
                return Err(PthError::Structure {
                    path: path.to_path_buf(),
                    detail: format!("byte order `{}`; only little-endian checkpoints are supported", text.trim()),
                });
            }
        }
        let mut member = zip.by_name(pickle).map_err(|e| corrupt(format!("{pickle}: {e}")))?;
        if member.size() > MAX_PICKLE_BYTES {
            return Err(corrupt(format!("{pickle} is {} bytes, more than a checkpoint's pickle can be", member.size())));
        }
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).map_err(|e| corrupt(format!("{pickle}: {e}")))?;
        drop(member);
        let root = unpickle(&bytes).map_err(|e| corrupt(format!("{pickle}: {e}")))?;
        Ok(Self { path: path.to_path_buf(), zip, data_dir: format!("{prefix}/data"), root })
    }

    fn structure(&self, detail: String) -> PthError {
        PthError::Structure { path: self.path.clone(), detail }
    }

    fn corrupt(&self, detail: String) -> PthError {
        PthError::Corrupt { path: self.path.clone(), detail }
    }

    /// Describes `obj` as a tensor, or `None` if it is something else.
    fn tensor_info(&self, name: &str, obj: Object) -> Result<Option<TensorInfo>, PthError> {
        describe_tensor(name, obj, &self.data_dir).map_err(|e| self.structure(format!("`{name}` is not a readable tensor: {e}")))
    }

    /// Reads a tensor's values as f32, following its strides and offset.
    fn read(&mut self, info: &TensorInfo) -> Result<Vec<f32>, PthError> {
        let elem = info.dtype.size_in_bytes();
        if !matches!(info.dtype, DType::F32 | DType::F16 | DType::BF16 | DType::F64) {
            return Err(PthError::Dtype { name: info.name.clone(), dtype: info.dtype });
        }
        let mut storage = Vec::new();
        {
            let path = &self.path;
            let corrupt = |e: &dyn std::fmt::Display| PthError::Corrupt {
                path: path.clone(),
                detail: format!("storage `{}` of `{}`: {e}", info.path, info.name),
            };
            let mut member = self.zip.by_name(&info.path).map_err(|e| corrupt(&e))?;
            member.read_to_end(&mut storage).map_err(|e| corrupt(&e))?;
        }
        let available = storage.len() / elem;
        if available < info.storage_size {
            return Err(self.corrupt(format!(
                "storage of `{}` holds {available} values, the pickle says {}",
                info.name, info.storage_size
            )));
        }
        let (dims, strides, offset) = (&info.dims, &info.strides, info.offset);
        let past_end = || self.corrupt(format!("`{}` reaches past the end of its storage", info.name));
        // Checked: sizes and strides come from the file.
        let count = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(past_end)?;
        if count > 0 {
            let last = dims
                .iter()
                .zip(strides)
                .try_fold(offset, |acc, (d, s)| (d - 1).checked_mul(*s).and_then(|x| x.checked_add(acc)))
                .ok_or_else(past_end)?;
            if last >= info.storage_size || count > info.storage_size.max(1).saturating_mul(1 << 16) {
                return Err(past_end());
            }
        }
        let mut bytes = Vec::with_capacity(count * elem);
        let mut index = vec![0usize; dims.len()];
        for _ in 0..count {
            let at = offset + index.iter().zip(strides).map(|(i, s)| i * s).sum::<usize>();
            bytes.extend_from_slice(&storage[at * elem..(at + 1) * elem]);
            // Row-major increment of the multi-index.
            for axis in (0..dims.len()).rev() {
                index[axis] += 1;
                if index[axis] < dims[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        let values = match info.dtype {
            DType::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            DType::F64 => bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
                .collect(),
            _ => Tensor::from_raw_buffer(&bytes, info.dtype, &[count], &Device::Cpu)
                .and_then(|t| t.to_dtype(DType::F32))
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| self.corrupt(format!("`{}`: {e}", info.name)))?,
        };
        Ok(values)
    }
}

/// Largest `data.pkl` accepted (the real checkpoint's is well under 1 MB).
const MAX_PICKLE_BYTES: u64 = 64 << 20;
/// Most objects the unpickler may build, memo copies included: bounds what a
/// hostile pickle (nested memo references) can make it allocate.
const MAX_PICKLE_OBJECTS: usize = 4_000_000;

/// Decodes the pickle opcodes `torch.save` uses (protocols 2 to 4) into
/// candle's object model, with `collections.OrderedDict()` becoming a dict as
/// candle's tensor descriptions expect. Every malformed input is an error.
fn unpickle(bytes: &[u8]) -> Result<Object, String> {
    let mut vm = Unpickler { bytes, at: 0, stack: Vec::new(), marks: Vec::new(), memo: Default::default(), budget: MAX_PICKLE_OBJECTS };
    vm.run()
}

struct Unpickler<'a> {
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Object>,
    /// Stack heights at each MARK.
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, Object>,
    budget: usize,
}

impl Unpickler<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or("unexpected end of the pickle")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn line(&mut self) -> Result<String, String> {
        let rest = &self.bytes[self.at..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or("unterminated GLOBAL name")?;
        let text = std::str::from_utf8(&rest[..end]).map_err(|_| "GLOBAL name is not UTF-8")?.to_string();
        self.at += end + 1;
        Ok(text)
    }

    fn text(&mut self, n: u64) -> Result<Object, String> {
        let n = usize::try_from(n).map_err(|_| "string too long")?;
        let raw = self.take(n)?;
        Ok(Object::Unicode(std::str::from_utf8(raw).map_err(|_| "string is not UTF-8")?.to_string()))
    }

    fn pop(&mut self) -> Result<Object, String> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("pop across a MARK".into());
        }
        self.stack.pop().ok_or_else(|| "pop from an empty stack".into())
    }

    fn pop_mark(&mut self) -> Result<Vec<Object>, String> {
        let mark = self.marks.pop().ok_or("no MARK to pop to")?;
        if mark > self.stack.len() {
            return Err("MARK above the stack".into());
        }
        Ok(self.stack.split_off(mark))
    }

    fn push(&mut self, obj: Object) -> Result<(), String> {
        self.budget = self.budget.checked_sub(1).ok_or("the pickle builds too many objects")?;
        self.stack.push(obj);
        Ok(())
    }

    fn top(&mut self) -> Result<&mut Object, String> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err("no object above the MARK".into());
        }
        self.stack.last_mut().ok_or_else(|| "empty stack".into())
    }

    fn run(&mut self) -> Result<Object, String> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(format!("pickle protocol {proto}"));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint only
                }
                b'.' => {
                    let root = self.pop()?;
                    return Ok(root);
                }
                b'c' => {
                    let module_name = self.line()?;
                    let class_name = self.line()?;
                    self.push(Object::Class { module_name, class_name })?;
                }
                0x93 => {
                    let (Object::Unicode(class_name), Object::Unicode(module_name)) = (self.pop()?, self.pop()?) else {
                        return Err("STACK_GLOBAL needs two strings".into());
                    };
                    self.push(Object::Class { module_name, class_name })?;
                }
                b'X' => {
                    let n = self.le(4)?;
                    let t = self.text(n)?;
                    self.push(t)?;
                }
                0x8c => {
                    let n = self.le(1)?;
                    let t = self.text(n)?;
                    self.push(t)?;
                }
                0x8d => {
                    let n = self.le(8)?;
                    let t = self.text(n)?;
                    self.push(t)?;
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push(Object::Int(v))?;
                }
                b'K' => {
                    let v = self.le(1)? as i32;
                    self.push(Object::Int(v))?;
                }
                b'M' => {
                    let v = self.le(2)? as i32;
                    self.push(Object::Int(v))?;
                }
                0x8a => {
                    let n = usize::from(self.u8()?);
                    if n > 8 {
                        return Err(format!("LONG1 of {n} bytes"));
                    }
                    let raw = self.le(n)?;
                    // Two's complement over n bytes.
                    let v = if n == 0 { 0 } else if n == 8 { raw as i64 } else {
                        let shift = 64 - 8 * n as u32;
                        ((raw << shift) as i64) >> shift
                    };
                    self.push(Object::Long(v))?;
                }
                b'G' => {
                    let raw: [u8; 8] = self.take(8)?.try_into().map_err(|_| "BINFLOAT")?;
                    self.push(Object::Float(f64::from_be_bytes(raw)))?;
                }
                b'N' => self.push(Object::None)?,
                0x88 => self.push(Object::Bool(true))?,
                0x89 => self.push(Object::Bool(false))?,
                b'(' => self.marks.push(self.stack.len()),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Object::Tuple(items))?;
                }
                b')' => self.push(Object::Tuple(Vec::new()))?,
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
                    items.reverse();
                    self.push(Object::Tuple(items))?;
                }
                b'}' => self.push(Object::Dict(Vec::new()))?,
                b']' => self.push(Object::List(Vec::new()))?,
                b'a' => {
                    let item = self.pop()?;
                    match self.top()? {
                        Object::List(v) => v.push(item),
                        _ => return Err("APPEND to a non-list".into()),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top()? {
                        Object::List(v) => v.extend(items),
                        _ => return Err("APPENDS to a non-list".into()),
                    }
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    match self.top()? {
                        Object::Dict(v) => v.push((key, value)),
                        _ => return Err("SETITEM on a non-dict".into()),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    if items.len() % 2 != 0 {
                        return Err("SETITEMS with an odd number of items".into());
                    }
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    match self.top()? {
                        Object::Dict(v) => v.extend(pairs),
                        _ => return Err("SETITEMS on a non-dict".into()),
                    }
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let obj = match &callable {
                        Object::Class { module_name, class_name }
                            if module_name == "collections" && (class_name == "OrderedDict" || class_name == "defaultdict") =>
                        {
                            Object::Dict(Vec::new())
                        }
                        _ => Object::Reduce { callable: Box::new(callable), args: Box::new(args) },
                    };
                    self.push(obj)?;
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.pop()?;
                    let built = match (obj, state) {
                        // A state dict's `_metadata` arrives as BUILD state.
                        (Object::Dict(mut items), Object::Dict(extra)) => {
                            items.extend(extra);
                            Object::Dict(items)
                        }
                        (obj, state) => Object::Build { callable: Box::new(obj), args: Box::new(state) },
                    };
                    self.push(built)?;
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.push(Object::PersistentLoad(Box::new(id)))?;
                }
                b'q' | b'r' | 0x94 => {
                    let key = match op {
                        b'q' => self.le(1)? as u32,
                        b'r' => self.le(4)? as u32,
                        _ => self.memo.len() as u32,
                    };
                    self.top()?;
                    let top = self.stack.last().ok_or("empty stack")?;
                    charge(&mut self.budget, top)?;
                    self.memo.insert(key, top.clone());
                }
                b'h' | b'j' => {
                    let key = if op == b'h' { self.le(1)? as u32 } else { self.le(4)? as u32 };
                    let obj = self.memo.get(&key).ok_or_else(|| format!("memo entry {key} is not defined"))?;
                    // Memo entries are deep-copied on every use: charged to the budget.
                    charge(&mut self.budget, obj)?;
                    self.stack.push(obj.clone());
                }
                other => return Err(format!("unsupported pickle opcode 0x{other:02x} at byte {}", self.at - 1)),
            }
        }
    }
}

/// Where a tensor's values are: `torch._utils._rebuild_tensor_v2(storage,
/// offset, size, stride, ...)` with `storage` a persistent id
/// `('storage', <dtype>Storage, key, location, numel)`.
struct TensorInfo {
    name: String,
    dtype: DType,
    dims: Vec<usize>,
    strides: Vec<usize>,
    /// In elements.
    offset: usize,
    /// Zip member holding the storage.
    path: String,
    /// Elements in the storage.
    storage_size: usize,
}

/// Reads a tensor description; `Ok(None)` for objects that are not tensors.
fn describe_tensor(name: &str, obj: Object, data_dir: &str) -> Result<Option<TensorInfo>, String> {
    let Object::Reduce { callable, args } = obj else { return Ok(None) };
    let is = |o: &Object, module: &str, class: &str| {
        matches!(o, Object::Class { module_name, class_name } if module_name == module && class_name == class)
    };
    let (callable, args) = if is(&callable, "torch._utils", "_rebuild_parameter") {
        // (tensor, requires_grad, hooks): the tensor is itself a rebuild call.
        match *args {
            Object::Tuple(mut v) if !v.is_empty() => match v.swap_remove(0) {
                Object::Reduce { callable, args } => (*callable, *args),
                _ => return Err("parameter without a tensor".into()),
            },
            _ => return Err("malformed parameter".into()),
        }
    } else if is(&callable, "torch._tensor", "_rebuild_from_type_v2") {
        // (function, type, args, state)
        match *args {
            Object::Tuple(mut v) if v.len() >= 3 => {
                let inner = v.swap_remove(2);
                (v.swap_remove(0), inner)
            }
            _ => return Err("malformed tensor subclass".into()),
        }
    } else {
        (*callable, *args)
    };
    if !is(&callable, "torch._utils", "_rebuild_tensor_v2") {
        return Ok(None);
    }
    let Object::Tuple(args) = args else { return Err("rebuild arguments are not a tuple".into()) };
    let [storage, offset, size, stride, ..] = args.as_slice() else { return Err("too few rebuild arguments".into()) };
    let count = |o: &Object| match o {
        Object::Int(v) if *v >= 0 => Ok(*v as usize),
        Object::Long(v) if *v >= 0 => usize::try_from(*v).map_err(|_| "size out of range".to_string()),
        _ => Err(format!("expected a non-negative integer, found {o:?}")),
    };
    let counts = |o: &Object| match o {
        Object::Tuple(v) => v.iter().map(count).collect::<Result<Vec<_>, _>>(),
        _ => Err("expected a tuple of integers".to_string()),
    };
    let Object::PersistentLoad(id) = storage else { return Err("storage is not a persistent reference".into()) };
    let Object::Tuple(id) = id.as_ref() else { return Err("malformed storage reference".into()) };
    let [_, Object::Class { class_name, .. }, Object::Unicode(key), _, numel, ..] = id.as_slice() else {
        return Err("malformed storage reference".into());
    };
    let dtype = match class_name.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ByteStorage" | "BoolStorage" => DType::U8,
        other => return Err(format!("unsupported storage type {other}")),
    };
    if key.contains('/') || key.contains("..") {
        return Err(format!("storage key `{key}`"));
    }
    let (dims, strides) = (counts(size)?, counts(stride)?);
    if dims.len() != strides.len() {
        return Err(format!("size {dims:?} and stride {strides:?} differ in rank"));
    }
    Ok(Some(TensorInfo {
        name: name.to_string(),
        dtype,
        dims,
        strides,
        offset: count(offset)?,
        path: format!("{data_dir}/{key}"),
        storage_size: count(numel)?,
    }))
}

/// Takes one unit of `budget` per node of `obj`.
fn charge(budget: &mut usize, obj: &Object) -> Result<(), String> {
    *budget = budget.checked_sub(1).ok_or("the pickle builds too many objects")?;
    match obj {
        Object::Tuple(v) | Object::List(v) => v.iter().try_for_each(|o| charge(budget, o)),
        Object::Dict(v) => v.iter().try_for_each(|(k, o)| charge(budget, k).and_then(|_| charge(budget, o))),
        Object::Reduce { callable, args } | Object::Build { callable, args } => {
            charge(budget, callable).and_then(|_| charge(budget, args))
        }
        Object::PersistentLoad(o) => charge(budget, o),
        _ => Ok(()),
    }
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// One checkpoint entry under its canonical name.
enum Entry {
    Plain(TensorInfo),
    Normed { g: TensorInfo, v: TensorInfo },
}

/// Reads `kokoro-v1_0.pth` and returns the canonical weights, checked
/// against the built-in Kokoro v1.0 layout.
pub fn pth_to_weights(path: &Path) -> Result<(Weights, PthReport), PthError> {
    pth_to_weights_with(path, &Layout::kokoro_v1(), &mut |_, _| {})
}

/// Reads a checkpoint and returns the weights of `layout`: every tensor the
/// layout names must be present with its shape; entries it does not name are
/// left out and listed in the report. `progress(done, total)` is called as
/// tensors are read.
pub fn pth_to_weights_with(
    path: &Path,
    layout: &Layout,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Weights, PthReport), PthError> {
    let mut file = TorchFile::open(path)?;
    let root = std::mem::replace(&mut file.root, Object::None);
    let Object::Dict(top) = root else {
        return Err(file.structure(format!(
            "the top-level object is not a dict of state dicts (expected keys {})",
            TOP_LEVEL_KEYS.join(", ")
        )));
    };
    let mut report = PthReport::default();
    let mut sections: BTreeMap<String, Object> = BTreeMap::new();
    for (key, value) in top {
        match key {
            Object::Unicode(k) if TOP_LEVEL_KEYS.contains(&k.as_str()) => {
                sections.insert(k, value);
            }
            Object::Unicode(k) => report.extra.push(format!("{k} (top-level entry)")),
            other => return Err(file.structure(format!("top-level key {other:?} is not a string"))),
        }
    }
    let absent: Vec<&str> = TOP_LEVEL_KEYS.iter().copied().filter(|k| !sections.contains_key(*k)).collect();
    if !absent.is_empty() {
        let found: Vec<&str> = sections.keys().map(String::as_str).collect();
        return Err(file.structure(format!(
            "no state dict for {} (found: {})",
            absent.join(", "),
            if found.is_empty() { "none".into() } else { found.join(", ") }
        )));
    }

    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut halves: BTreeMap<String, (Option<TensorInfo>, Option<TensorInfo>)> = BTreeMap::new();
    for (section, state) in sections {
        let Object::Dict(items) = state else {
            return Err(file.structure(format!("`{section}` is not a state dict")));
        };
        for (key, value) in items {
            let Object::Unicode(key) = key else {
                return Err(file.structure(format!("`{section}` has a key that is not a string: {key:?}")));
            };
            let name = format!("{section}.{}", key.strip_prefix("module.").unwrap_or(&key));
            let canonical = name.strip_suffix("_g").or_else(|| name.strip_suffix("_v")).unwrap_or(&name);
            let info = match file.tensor_info(&key, value) {
                Ok(Some(info)) => info,
                // `_metadata` and other non-tensor attributes of the state dict.
                Ok(None) => continue,
                // A buffer of a type candle cannot describe matters only if the model needs it.
                Err(_) if layout.shape(canonical).is_none() => {
                    report.extra.push(name);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(base) = name.strip_suffix(".weight_g") {
                halves.entry(format!("{base}.weight")).or_default().0 = Some(info);
            } else if let Some(base) = name.strip_suffix(".weight_v") {
                halves.entry(format!("{base}.weight")).or_default().1 = Some(info);
            } else if entries.insert(name.clone(), Entry::Plain(info)).is_some() {
                return Err(file.structure(format!("`{name}` appears twice (with and without `module.`?)")));
            }
        }
    }
    for (name, pair) in halves {
        let entry = match pair {
            (Some(g), Some(v)) => Entry::Normed { g, v },
            (g, _) => {
                let (has, lacks) = if g.is_some() { ("weight_g", "weight_v") } else { ("weight_v", "weight_g") };
                return Err(PthError::WeightNorm { name, detail: format!("has {has} but no {lacks}") });
            }
        };
        if entries.insert(name.clone(), entry).is_some() {
            return Err(file.structure(format!("`{name}` is stored both folded and as weight_g/weight_v")));
        }
    }

    let wanted: Vec<(String, Entry)> = entries
        .into_iter()
        .filter_map(|(name, entry)| {
            if layout.shape(&name).is_some() {
                Some((name, entry))
            } else {
                report.extra.push(name);
                None
            }
        })
        .collect();
    let derivable = [ISTFT_BASIS, ISTFT_WINDOW_SUM];
    let missing: Vec<String> = layout
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !derivable.contains(n) && !wanted.iter().any(|(w, _)| w == n))
        .map(String::from)
        .collect();
    if !missing.is_empty() {
        return Err(PthError::Missing { missing });
    }

    let mut out = Weights::new();
    let total = wanted.len();
    for (done, (name, entry)) in wanted.into_iter().enumerate() {
        let expected = layout.shape(&name).unwrap_or_default().to_vec();
        let shape_of = |info: &TensorInfo| info.dims.clone();
        let values = match entry {
            Entry::Plain(info) => {
                check_shape(&name, &expected, &shape_of(&info))?;
                file.read(&info)?
            }
            Entry::Normed { g, v } => {
                check_shape(&name, &expected, &shape_of(&v))?;
                let (g_shape, v_shape) = (shape_of(&g), shape_of(&v));
                let g_count = g_shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                if g_count.is_none_or(|n| n > v_shape.iter().product::<usize>()) {
                    return Err(PthError::WeightNorm {
                        name,
                        detail: format!("weight_g {g_shape:?} is larger than weight_v {v_shape:?}"),
                    });
                }
                let (g_values, v_values) = (file.read(&g)?, file.read(&v)?);
                report.folded.push(name.clone());
                fold_weight_norm(&name, &g_shape, &g_values, &v_shape, v_values)?
            }
        };
        out.insert(name, (expected, values));
        progress(done + 1, total);
    }
    for name in derivable {
        if let Some(expected) = layout.shape(name) {
            let (shape, values) = istft_constant(name);
            check_shape(name, expected, &shape)?;
            out.insert(name.to_string(), (shape, values));
            report.derived.push(name.to_string());
        }
    }
    report.extra.sort();
    Ok((out, report))
}

/// Reads `kokoro-v1_0.pth` and returns canonical safetensors bytes (the same
/// names, shapes and dtype as [`crate::convert::onnx_to_safetensors`]).
pub fn pth_to_safetensors(path: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<(Vec<u8>, PthReport), PthError> {
    let (weights, report) = pth_to_weights_with(path, &Layout::kokoro_v1(), progress)?;
    Ok((serialize(&weights)?, report))
}

/// Reads a voice of the release (`voices/NAME.pt`: one tensor `[510, 1, 256]`)
/// and returns its style table, row-major.
pub fn read_voice_pt(path: &Path) -> Result<Vec<f32>, PthError> {
    let mut file = TorchFile::open(path)?;
    let root = std::mem::replace(&mut file.root, Object::None);
    let info = file
        .tensor_info("voice", root)?
        .ok_or_else(|| file.structure("a voice file holds one tensor; this one holds something else".into()))?;
    let shape = info.dims.clone();
    if shape != VOICE_SHAPE {
        return Err(file.structure(format!("the voice tensor has shape {shape:?}, expected {VOICE_SHAPE:?}")));
    }
    let values = file.read(&info)?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(file.structure("the voice tensor holds non-finite values".into()));
    }
    Ok(values)
}

fn check_shape(name: &str, expected: &[usize], found: &[usize]) -> Result<(), PthError> {
    if expected != found {
        return Err(PthError::Shape { name: name.to_string(), expected: expected.to_vec(), found: found.to_vec() });
    }
    Ok(())
}

/// `weight = g · v / ‖v‖`. `g` has `v`'s rank with size 1 on every axis but
/// the one it normalizes (torch's `weight_norm(dim=...)`): the output channels
/// of a Conv1d `[out, in, k]` (g `[out, 1, 1]`), and with the default
/// `dim=0` the input channels of a ConvTranspose1d `[in, out, k]` (g
/// `[in, 1, 1]`); a single `g` normalizes the whole tensor (`dim=None`).
pub fn fold_weight_norm(
    name: &str,
    g_shape: &[usize],
    g: &[f32],
    v_shape: &[usize],
    mut v: Vec<f32>,
) -> Result<Vec<f32>, PthError> {
    let bad = |detail: String| PthError::WeightNorm { name: name.to_string(), detail };
    let count: usize = v_shape.iter().product();
    if v.len() != count || g.len() != g_shape.iter().product::<usize>() {
        return Err(bad("values do not match their shapes".into()));
    }
    let axis = if g.len() == 1 {
        None
    } else {
        if g_shape.len() != v_shape.len() {
            return Err(bad(format!("weight_g {g_shape:?} does not broadcast over weight_v {v_shape:?}")));
        }
        let spanned: Vec<usize> = (0..v_shape.len()).filter(|&a| g_shape[a] != 1).collect();
        match spanned.as_slice() {
            [a] if g_shape[*a] == v_shape[*a] => Some(*a),
            _ => {
                return Err(bad(format!(
                    "weight_g {g_shape:?} must span exactly one axis of weight_v {v_shape:?}"
                )))
            }
        }
    };
    let (outer, channels, inner) = match axis {
        None => (1, 1, count),
        Some(a) => (v_shape[..a].iter().product(), v_shape[a], v_shape[a + 1..].iter().product()),
    };
    let mut norms = vec![0f64; channels];
    for o in 0..outer {
        for (c, norm) in norms.iter_mut().enumerate() {
            let start = (o * channels + c) * inner;
            *norm += v[start..start + inner].iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
        }
    }
    for (c, norm) in norms.iter_mut().enumerate() {
        *norm = norm.sqrt();
        // A channel with g = 0 is zero whatever its direction (pruned or
        // quantized-away channels have v = 0 too); otherwise v must have a length.
        if g[c] != 0.0 && (*norm == 0.0 || !norm.is_finite()) {
            return Err(bad(format!("weight_v has a zero or non-finite norm for channel {c}")));
        }
    }
    for o in 0..outer {
        for c in 0..channels {
            let factor = if g[c] == 0.0 { 0.0 } else { f64::from(g[c]) / norms[c] };
            let start = (o * channels + c) * inner;
            for x in &mut v[start..start + inner] {
                *x = (f64::from(*x) * factor) as f32;
            }
        }
    }
    Ok(v)
}

/// The inverse-STFT constants of the ONNX graph: a windowed inverse real DFT
/// basis `[2·bins, 1, n_fft]` (cosines, then negated sines; DC and Nyquist
/// counted once, other bins twice; scaled by hop / n_fft²) and the squared
/// window `[n_fft]`.
fn istft_constant(name: &str) -> (Vec<usize>, Vec<f32>) {
    use std::f64::consts::PI;
    let n = N_FFT as f64;
    let window: Vec<f64> = (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n).cos()).collect();
    if name == ISTFT_WINDOW_SUM {
        return (vec![N_FFT], window.iter().map(|w| (w * w) as f32).collect());
    }
    let bins = N_FFT / 2 + 1;
    let scale = HOP as f64 / (n * n);
    let mut basis = vec![0f32; 2 * bins * N_FFT];
    for k in 0..bins {
        let weight = if k == 0 || k == bins - 1 { 1.0 } else { 2.0 };
        for (i, w) in window.iter().enumerate() {
            let phase = 2.0 * PI * (k * i) as f64 / n;
            basis[k * N_FFT + i] = (weight * phase.cos() * w * scale) as f32;
            basis[(bins + k) * N_FFT + i] = (-weight * phase.sin() * w * scale) as f32;
        }
    }
    (vec![2 * bins, 1, N_FFT], basis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpickler_decodes_longs_and_refuses_malformed_or_explosive_pickles() {
        // LONG1 -2 in two bytes, in a tuple with a string.
        let ok = unpickle(&[0x80, 2, b'(', 0x8a, 2, 0xfe, 0xff, 0x8c, 1, b'a', b't', b'.']).unwrap();
        assert_eq!(ok, Object::Tuple(vec![Object::Long(-2), Object::Unicode("a".into())]));
        for bad in [
            &[0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'.'][..], // LONG1 wider than 64 bits
            &[0x80, 2, b't', b'.'],                                    // TUPLE without MARK
            &[0x80, 2, b'h', 3, b'.'],                                 // undefined memo entry
            &[0x80, 2, b'X', 0xff, 0xff, 0xff, 0xff],                  // string past the end
            &[0x80, 2, b'N'],                                          // no STOP
            &[0x80, 2, b'}', b'N', b'u', b'.'],                        // SETITEMS without MARK
        ] {
            assert!(unpickle(bad).is_err(), "{bad:?}");
        }
        // Each step stores a pair of the previous object: 2^40 nodes from 300 bytes.
        let mut bomb = vec![0x80, 2, b']', b'q', 0];
        for _ in 0..40 {
            bomb.extend([b'(', b'h', 0, b'h', 0, b't', b'q', 0]);
        }
        bomb.push(b'.');
        assert!(unpickle(&bomb).unwrap_err().contains("too many objects"));
    }

    #[test]
    fn built_in_layout_parses_and_has_every_sub_network() {
        let layout = Layout::kokoro_v1();
        assert_eq!(layout.len(), 459);
        for key in TOP_LEVEL_KEYS {
            assert!(layout.iter().any(|(n, _)| n.starts_with(&format!("{key}."))), "{key}");
        }
        assert_eq!(layout.shape("decoder.generator.conv_post.weight"), Some(&[22, 128, 7][..]));
    }

    #[test]
    fn layout_parse_rejects_bad_lines() {
        assert!(matches!(Layout::parse("a.weight 3,x"), Err(PthError::Layout { line: 1, .. })));
        assert!(matches!(Layout::parse("# c\na 1\na 2"), Err(PthError::Layout { line: 3, .. })));
        assert!(Layout::parse("noshape").is_err());
    }

    #[test]
    fn diff_names_missing_extra_and_misshapen_tensors() {
        let layout = Layout::parse("a 2\nb 3,1\nc 4").unwrap();
        let diff = layout.diff([("a", &[2][..]), ("b", &[1, 3][..]), ("z", &[1][..])]);
        assert_eq!(diff.missing, vec!["c"]);
        assert_eq!(diff.extra, vec!["z"]);
        assert_eq!(diff.misshapen, vec![("b".to_string(), vec![3, 1], vec![1, 3])]);
        assert!(!diff.is_exact());
    }

    /// Un-folds `w` along `axis` with per-slice scales, like torch's weight_norm does.
    fn unfold(w: &[f32], shape: &[usize], axis: usize, scales: &[f32]) -> (Vec<usize>, Vec<f32>, Vec<f32>) {
        let outer: usize = shape[..axis].iter().product();
        let (ch, inner) = (shape[axis], shape[axis + 1..].iter().product::<usize>());
        let mut g = vec![0f32; ch];
        let mut v = w.to_vec();
        for c in 0..ch {
            let mut sq = 0f32;
            for o in 0..outer {
                let s = (o * ch + c) * inner;
                sq += w[s..s + inner].iter().map(|x| x * x).sum::<f32>();
                v[s..s + inner].iter_mut().for_each(|x| *x *= scales[c]);
            }
            g[c] = sq.sqrt();
        }
        let mut g_shape = vec![1; shape.len()];
        g_shape[axis] = ch;
        (g_shape, g, v)
    }

    #[test]
    fn folding_restores_conv_and_transposed_conv_weights_on_their_own_axis() {
        // ConvTranspose1d [in=2, out=3, k=2] normalized over dim 0 (torch's
        // default) and over dim 1; the two folds give different results, so
        // picking the axis from g's shape is what makes both right.
        let w: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.3).collect();
        let shape = [2, 3, 2];
        for (axis, scales) in [(0, vec![2.0, 0.5]), (1, vec![3.0, 0.25, 1.5])] {
            let (g_shape, g, v) = unfold(&w, &shape, axis, &scales);
            let folded = fold_weight_norm("t", &g_shape, &g, &shape, v.clone()).unwrap();
            for (a, b) in folded.iter().zip(&w) {
                assert!((a - b).abs() < 1e-6, "axis {axis}: {a} vs {b}");
            }
            // Folding over the other axis does not give the weight back.
            let mut wrong = vec![1; 3];
            wrong[1 - axis] = shape[1 - axis];
            let g_wrong: Vec<f32> = g.iter().cycle().take(shape[1 - axis]).copied().collect();
            let other = fold_weight_norm("t", &wrong, &g_wrong, &shape, v).unwrap();
            assert!(other.iter().zip(&w).any(|(a, b)| (a - b).abs() > 1e-3));
        }
    }

    #[test]
    fn folding_rejects_pairs_that_are_not_weight_norm() {
        let v = vec![1.0; 6];
        assert!(fold_weight_norm("t", &[2, 3], &[1.0; 6], &[2, 3], v.clone()).is_err());
        assert!(fold_weight_norm("t", &[3, 1], &[1.0; 3], &[2, 3], v.clone()).is_err());
        assert!(fold_weight_norm("t", &[2, 1], &[1.0; 2], &[2, 3], vec![0.0; 6]).is_err());
        // ... but a zero channel (g = 0, v = 0) folds to zeros.
        let zero_row = fold_weight_norm("t", &[2, 1], &[0.0, 2.0], &[2, 3], vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        assert_eq!(&zero_row[..3], &[0.0; 3]);
        assert!((zero_row[3] - 2.0 / 3f32.sqrt()).abs() < 1e-6);
        // A single g normalizes the whole tensor.
        let w = fold_weight_norm("t", &[1], &[3.0], &[2, 3], v).unwrap();
        assert!((w.iter().map(|x| x * x).sum::<f32>().sqrt() - 3.0).abs() < 1e-6);
    }
}
