//! A reader for PyTorch's legacy (pre-1.6, non-zip) `torch.save` format,
//! enough to take the float32 tensors out of resemblyzer's `pretrained.pt`.
//!
//! The file is five pickles (protocol 2) followed by raw storage bytes:
//! a magic number, the format version (1001), a `sys_info` dict, the saved
//! object (tensors refer to their storages through persistent ids
//! `('storage', torch.FloatStorage, key, location, numel, view)`), the list of
//! storage keys, and then for each key in that order an 8-byte little-endian
//! element count followed by the elements.
//!
//! Only the pickle opcodes such files use are understood; anything else, a
//! tensor whose storage is not `FloatStorage`, or a tensor reaching past its
//! storage is a [`TorchLoadError`], never a panic. Nothing in the file is
//! executed: globals are recorded by name and only `_rebuild_tensor_v2` and
//! `OrderedDict` are interpreted.

use std::collections::{BTreeMap, HashMap};

/// Errors reading a legacy torch file.
#[derive(Debug, thiserror::Error)]
pub enum TorchLoadError {
    /// The bytes end before the structure does.
    #[error("truncated torch file: {0}")]
    Truncated(&'static str),
    /// Not a legacy torch file (zip-format checkpoints start with `PK`).
    #[error("not a legacy torch.save file: {0}")]
    NotLegacy(String),
    /// A pickle opcode this reader does not implement.
    #[error("unsupported pickle opcode 0x{opcode:02x} at byte {offset}")]
    UnsupportedOpcode {
        /// The opcode.
        opcode: u8,
        /// Its offset in the file.
        offset: usize,
    },
    /// The pickle or the tensor records are inconsistent.
    #[error("malformed torch file: {0}")]
    Malformed(String),
    /// A tensor of a type this reader does not convert.
    #[error(
        "tensor `{name}` has storage type {storage}; only FloatStorage (float32) is supported"
    )]
    UnsupportedDtype {
        /// Tensor name.
        name: String,
        /// Storage class name.
        storage: String,
    },
}

/// The legacy format's magic number, `0x1950a86a20f9469cfc6c`, as pickled
/// (little-endian two's complement bytes of a LONG1).
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PROTOCOL_VERSION: i64 = 1001;

/// A float32 tensor read from the file, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major.
    pub data: Vec<f32>,
}

/// A value on the pickle stack.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer wider than 64 bits: its little-endian two's complement bytes.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    /// Key/value pairs in insertion order (dicts and OrderedDicts).
    Dict(Vec<(Value, Value)>),
    Global {
        module: String,
        name: String,
    },
    Persistent(Box<Value>),
    /// `func(*args)` that this reader does not evaluate.
    Call {
        func: Box<Value>,
        args: Box<Value>,
    },
    Mark,
}

struct Pickle<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Pickle<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TorchLoadError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(TorchLoadError::Truncated("inside a pickle"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, TorchLoadError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, TorchLoadError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, TorchLoadError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<String, TorchLoadError> {
        let rest = &self.bytes[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(TorchLoadError::Truncated("GLOBAL without newline"))?;
        let s = String::from_utf8(rest[..n].to_vec())
            .map_err(|_| TorchLoadError::Malformed("GLOBAL name is not UTF-8".into()))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn utf8(&mut self, n: usize) -> Result<String, TorchLoadError> {
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| TorchLoadError::Malformed("string is not UTF-8".into()))
    }

    /// Runs one pickle up to its STOP and returns the object it builds.
    fn load(&mut self) -> Result<Value, TorchLoadError> {
        let mut stack: Vec<Value> = Vec::new();
        let mut memo: HashMap<u32, Value> = HashMap::new();
        let malformed = |m: &str| TorchLoadError::Malformed(m.to_string());
        loop {
            let offset = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 2 {
                        return Err(TorchLoadError::NotLegacy(format!(
                            "pickle protocol {proto} (expected 2)"
                        )));
                    }
                }
                b'.' => {
                    return stack
                        .pop()
                        .ok_or_else(|| malformed("STOP on an empty stack"))
                }
                b'(' => stack.push(Value::Mark),
                b'}' => stack.push(Value::Dict(Vec::new())),
                b']' => stack.push(Value::List(Vec::new())),
                b')' => stack.push(Value::Tuple(Vec::new())),
                b'N' => stack.push(Value::None),
                0x88 => stack.push(Value::Bool(true)),
                0x89 => stack.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32;
                    stack.push(Value::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.u8()?;
                    stack.push(Value::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.u16()?;
                    stack.push(Value::Int(i64::from(v)));
                }
                0x8a => {
                    let n = usize::from(self.u8()?);
                    let b = self.take(n)?;
                    stack.push(long_value(b));
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    stack.push(Value::Float(f64::from_be_bytes(a)));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.utf8(n)?;
                    stack.push(Value::Str(s));
                }
                b'U' => {
                    let n = usize::from(self.u8()?);
                    let s = self.take(n)?.to_vec();
                    stack.push(bytes_or_str(s));
                }
                b'T' => {
                    let n = self.u32()? as usize;
                    let s = self.take(n)?.to_vec();
                    stack.push(bytes_or_str(s));
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    stack.push(Value::Global { module, name });
                }
                b'q' => {
                    let k = u32::from(self.u8()?);
                    let top = stack
                        .last()
                        .ok_or_else(|| malformed("BINPUT on empty stack"))?;
                    memo.insert(k, top.clone());
                }
                b'r' => {
                    let k = self.u32()?;
                    let top = stack
                        .last()
                        .ok_or_else(|| malformed("LONG_BINPUT on empty stack"))?;
                    memo.insert(k, top.clone());
                }
                b'h' | b'j' => {
                    let k = if op == b'h' {
                        u32::from(self.u8()?)
                    } else {
                        self.u32()?
                    };
                    // Memoized values are copies: sharing only matters for
                    // objects mutated after being memoized and referenced
                    // again, which state dicts do not do.
                    let v = memo
                        .get(&k)
                        .cloned()
                        .ok_or_else(|| malformed("BINGET of an unknown memo key"))?;
                    stack.push(v);
                }
                b'0' => {
                    stack.pop().ok_or_else(|| malformed("POP on empty stack"))?;
                }
                b't' => {
                    let items = pop_to_mark(&mut stack)?;
                    stack.push(Value::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if stack.len() < n {
                        return Err(malformed("TUPLEn with too few items"));
                    }
                    let items = stack.split_off(stack.len() - n);
                    stack.push(Value::Tuple(items));
                }
                b'Q' => {
                    let pid = stack
                        .pop()
                        .ok_or_else(|| malformed("BINPERSID on empty stack"))?;
                    stack.push(Value::Persistent(Box::new(pid)));
                }
                b'R' | 0x81 => {
                    let args = stack
                        .pop()
                        .ok_or_else(|| malformed("REDUCE without args"))?;
                    let func = stack
                        .pop()
                        .ok_or_else(|| malformed("REDUCE without callable"))?;
                    let is_ordered_dict = matches!(&func, Value::Global { module, name }
                        if module == "collections" && name == "OrderedDict");
                    if is_ordered_dict && args == Value::Tuple(Vec::new()) {
                        stack.push(Value::Dict(Vec::new()));
                    } else {
                        stack.push(Value::Call {
                            func: Box::new(func),
                            args: Box::new(args),
                        });
                    }
                }
                b'b' => {
                    // BUILD sets state (e.g. an OrderedDict's `_metadata`
                    // attribute); nothing this reader needs.
                    stack
                        .pop()
                        .ok_or_else(|| malformed("BUILD without state"))?;
                    if stack.is_empty() {
                        return Err(malformed("BUILD without object"));
                    }
                }
                b's' => {
                    let v = stack
                        .pop()
                        .ok_or_else(|| malformed("SETITEM without value"))?;
                    let k = stack
                        .pop()
                        .ok_or_else(|| malformed("SETITEM without key"))?;
                    match stack.last_mut() {
                        Some(Value::Dict(d)) => d.push((k, v)),
                        _ => return Err(malformed("SETITEM on a non-dict")),
                    }
                }
                b'u' => {
                    let items = pop_to_mark(&mut stack)?;
                    if items.len() % 2 != 0 {
                        return Err(malformed("SETITEMS with an odd item count"));
                    }
                    let mut it = items.into_iter();
                    match stack.last_mut() {
                        Some(Value::Dict(d)) => {
                            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                                d.push((k, v));
                            }
                        }
                        _ => return Err(malformed("SETITEMS on a non-dict")),
                    }
                }
                b'a' => {
                    let v = stack
                        .pop()
                        .ok_or_else(|| malformed("APPEND without value"))?;
                    match stack.last_mut() {
                        Some(Value::List(l)) => l.push(v),
                        _ => return Err(malformed("APPEND on a non-list")),
                    }
                }
                b'e' => {
                    let items = pop_to_mark(&mut stack)?;
                    match stack.last_mut() {
                        Some(Value::List(l)) => l.extend(items),
                        _ => return Err(malformed("APPENDS on a non-list")),
                    }
                }
                other => {
                    return Err(TorchLoadError::UnsupportedOpcode {
                        opcode: other,
                        offset,
                    })
                }
            }
        }
    }
}

fn long_value(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    if b.len() <= 8 {
        let neg = b[b.len() - 1] & 0x80 != 0;
        let mut a = [if neg { 0xff } else { 0 }; 8];
        a[..b.len()].copy_from_slice(b);
        Value::Int(i64::from_le_bytes(a))
    } else {
        Value::BigInt(b.to_vec())
    }
}

/// Python 2 `str` pickles (BINSTRING) are usually text; keep them as text
/// when they are valid UTF-8.
fn bytes_or_str(b: Vec<u8>) -> Value {
    match String::from_utf8(b) {
        Ok(s) => Value::Str(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

fn pop_to_mark(stack: &mut Vec<Value>) -> Result<Vec<Value>, TorchLoadError> {
    let at = stack
        .iter()
        .rposition(|v| *v == Value::Mark)
        .ok_or_else(|| TorchLoadError::Malformed("no MARK on the stack".into()))?;
    let items = stack.split_off(at + 1);
    stack.pop();
    Ok(items)
}

fn storage_elem_size(class: &str) -> Option<usize> {
    Some(match class {
        "DoubleStorage" | "LongStorage" | "ComplexFloatStorage" => 8,
        "FloatStorage" | "IntStorage" => 4,
        "HalfStorage" | "BFloat16Storage" | "ShortStorage" => 2,
        "CharStorage" | "ByteStorage" | "BoolStorage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => return None,
    })
}

/// What a persistent id says about one storage.
struct StorageRef {
    class: String,
    key: String,
}

fn storage_ref(pid: &Value) -> Result<StorageRef, TorchLoadError> {
    let bad = || TorchLoadError::Malformed(format!("unexpected persistent id {pid:?}"));
    let Value::Tuple(t) = pid else {
        return Err(bad());
    };
    match t.as_slice() {
        [Value::Str(tag), Value::Global { name, .. }, Value::Str(key), ..] if tag == "storage" => {
            Ok(StorageRef {
                class: name.clone(),
                key: key.clone(),
            })
        }
        _ => Err(bad()),
    }
}

fn collect_storage_classes(
    v: &Value,
    out: &mut HashMap<String, String>,
) -> Result<(), TorchLoadError> {
    match v {
        Value::Persistent(pid) => {
            let r = storage_ref(pid)?;
            out.insert(r.key, r.class);
        }
        Value::Tuple(items) | Value::List(items) => {
            for i in items {
                collect_storage_classes(i, out)?;
            }
        }
        Value::Dict(pairs) => {
            for (k, val) in pairs {
                collect_storage_classes(k, out)?;
                collect_storage_classes(val, out)?;
            }
        }
        Value::Call { func, args } => {
            collect_storage_classes(func, out)?;
            collect_storage_classes(args, out)?;
        }
        _ => {}
    }
    Ok(())
}

fn int_of(v: &Value, what: &str) -> Result<usize, TorchLoadError> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as usize),
        _ => Err(TorchLoadError::Malformed(format!(
            "{what} is not a non-negative integer"
        ))),
    }
}

fn ints_of(v: &Value, what: &str) -> Result<Vec<usize>, TorchLoadError> {
    match v {
        Value::Tuple(items) => items.iter().map(|i| int_of(i, what)).collect(),
        _ => Err(TorchLoadError::Malformed(format!("{what} is not a tuple"))),
    }
}

/// Reads every tensor of the state dict in a legacy `torch.save` file.
///
/// The state dict is the saved object itself when it maps names to tensors,
/// or its `"model_state"` / `"state_dict"` entry (training checkpoints such as
/// resemblyzer's also hold optimizer state, which is skipped).
pub fn read_state_dict(bytes: &[u8]) -> Result<BTreeMap<String, RawTensor>, TorchLoadError> {
    if bytes.starts_with(b"PK") {
        return Err(TorchLoadError::NotLegacy(
            "this is a zip-format checkpoint (torch >= 1.6)".into(),
        ));
    }
    let mut p = Pickle { bytes, pos: 0 };
    match p.load()? {
        Value::BigInt(b) if b == MAGIC => {}
        other => {
            return Err(TorchLoadError::NotLegacy(format!(
                "first pickle is {other:?}, not the magic number"
            )))
        }
    }
    match p.load()? {
        Value::Int(PROTOCOL_VERSION) => {}
        other => {
            return Err(TorchLoadError::NotLegacy(format!(
                "format version {other:?} (expected {PROTOCOL_VERSION})"
            )))
        }
    }
    let sys_info = p.load()?;
    if let Value::Dict(pairs) = &sys_info {
        for (k, v) in pairs {
            if *k == Value::Str("little_endian".into()) && *v != Value::Bool(true) {
                return Err(TorchLoadError::NotLegacy("big-endian file".into()));
            }
        }
    }
    let root = p.load()?;
    let keys = match p.load()? {
        Value::List(items) => items
            .into_iter()
            .map(|k| match k {
                Value::Str(s) => Ok(s),
                other => Err(TorchLoadError::Malformed(format!("storage key {other:?}"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(TorchLoadError::Malformed(format!(
                "storage key list is {other:?}"
            )))
        }
    };
    let mut classes = HashMap::new();
    collect_storage_classes(&root, &mut classes)?;

    // Storages follow the pickles, in key-list order.
    let mut storages: HashMap<String, (String, &[u8])> = HashMap::new();
    let mut pos = p.pos;
    for key in keys {
        let class = classes.get(&key).cloned().ok_or_else(|| {
            TorchLoadError::Malformed(format!("storage {key} is listed but never referenced"))
        })?;
        let elem = storage_elem_size(&class)
            .ok_or_else(|| TorchLoadError::Malformed(format!("unknown storage type {class}")))?;
        let head = bytes
            .get(pos..pos + 8)
            .ok_or(TorchLoadError::Truncated("storage size"))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(head);
        let numel = usize::try_from(u64::from_le_bytes(a))
            .map_err(|_| TorchLoadError::Malformed("storage size overflows".into()))?;
        pos += 8;
        let len = numel
            .checked_mul(elem)
            .ok_or_else(|| TorchLoadError::Malformed("storage size overflows".into()))?;
        let data = bytes
            .get(pos..pos + len)
            .ok_or(TorchLoadError::Truncated("storage data"))?;
        pos += len;
        storages.insert(key, (class, data));
    }

    let state = select_state_dict(&root)?;
    let mut out = BTreeMap::new();
    for (k, v) in state {
        let Value::Str(name) = k else {
            return Err(TorchLoadError::Malformed(format!("state dict key {k:?}")));
        };
        out.insert(name.clone(), rebuild_tensor(name, v, &storages)?);
    }
    Ok(out)
}

fn select_state_dict(root: &Value) -> Result<&[(Value, Value)], TorchLoadError> {
    let Value::Dict(pairs) = root else {
        return Err(TorchLoadError::Malformed(
            "saved object is not a dict".into(),
        ));
    };
    for wanted in ["model_state", "state_dict"] {
        if let Some((_, Value::Dict(inner))) =
            pairs.iter().find(|(k, _)| *k == Value::Str(wanted.into()))
        {
            return Ok(inner);
        }
    }
    Ok(pairs)
}

fn rebuild_tensor(
    name: &str,
    v: &Value,
    storages: &HashMap<String, (String, &[u8])>,
) -> Result<RawTensor, TorchLoadError> {
    let bad = |m: &str| TorchLoadError::Malformed(format!("tensor `{name}`: {m}"));
    let Value::Call { func, args } = v else {
        return Err(bad("not a tensor"));
    };
    match func.as_ref() {
        Value::Global { module, name: f }
            if module == "torch._utils" && f == "_rebuild_tensor_v2" => {}
        other => return Err(bad(&format!("built by {other:?}, not _rebuild_tensor_v2"))),
    }
    let Value::Tuple(a) = args.as_ref() else {
        return Err(bad("arguments are not a tuple"));
    };
    if a.len() < 4 {
        return Err(bad("too few arguments"));
    }
    let Value::Persistent(pid) = &a[0] else {
        return Err(bad("first argument is not a storage"));
    };
    let sref = storage_ref(pid)?;
    if sref.class != "FloatStorage" {
        return Err(TorchLoadError::UnsupportedDtype {
            name: name.to_string(),
            storage: sref.class,
        });
    }
    let (_, data) = storages
        .get(&sref.key)
        .ok_or_else(|| bad("its storage is missing"))?;
    let numel_storage = data.len() / 4;
    let offset = int_of(&a[1], "storage offset")?;
    let shape = ints_of(&a[2], "size")?;
    let stride = ints_of(&a[3], "stride")?;
    if shape.len() != stride.len() {
        return Err(bad("size and stride differ in length"));
    }
    let numel: usize = shape.iter().product();
    // The furthest element the view touches must lie inside the storage.
    let extent = shape
        .iter()
        .zip(&stride)
        .map(|(&n, &s)| n.saturating_sub(1).saturating_mul(s))
        .try_fold(offset, |acc, x| acc.checked_add(x))
        .ok_or_else(|| bad("view overflows"))?;
    if numel > 0 && extent >= numel_storage {
        return Err(bad(&format!(
            "view reaches element {extent} of a storage of {numel_storage}"
        )));
    }
    let read = |i: usize| {
        let b = &data[i * 4..i * 4 + 4];
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    let mut out = Vec::with_capacity(numel);
    let mut index = vec![0usize; shape.len()];
    for _ in 0..numel {
        let at = offset + index.iter().zip(&stride).map(|(i, s)| i * s).sum::<usize>();
        out.push(read(at));
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(RawTensor { shape, data: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made legacy file: one 2x3 float tensor viewed at offset 1 with
    /// transposed strides, so offset and stride handling are both exercised.
    fn tiny_file(storage_class: &str) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend([0x80, 2, 0x8a, 10]);
        f.extend(MAGIC);
        f.push(b'.');
        f.extend([0x80, 2, b'M']);
        f.extend(1001u16.to_le_bytes());
        f.push(b'.');
        f.extend([0x80, 2, b'}', b'X']);
        f.extend(13u32.to_le_bytes());
        f.extend(b"little_endian");
        f.extend([0x88, b's', b'.']);
        // {'w': _rebuild_tensor_v2(pid, 1, (2, 3), (1, 2), False, OrderedDict())}
        f.extend([0x80, 2, b'}', b'X']);
        f.extend(1u32.to_le_bytes());
        f.push(b'w');
        f.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        f.extend(b"X");
        f.extend(7u32.to_le_bytes());
        f.extend(b"storage");
        f.extend(format!("ctorch\n{storage_class}\n").as_bytes());
        f.push(b'X');
        f.extend(1u32.to_le_bytes());
        f.push(b'0');
        f.push(b'X');
        f.extend(3u32.to_le_bytes());
        f.extend(b"cpu");
        f.extend([b'K', 7, b'N', b't', b'Q']);
        f.extend([
            b'K', 1, b'K', 2, b'K', 3, 0x86, b'K', 1, b'K', 2, 0x86, 0x89,
        ]);
        f.extend(b"ccollections\nOrderedDict\n)R");
        f.extend([b't', b'R', b's', b'.']);
        f.extend([0x80, 2, b']', b'X']);
        f.extend(1u32.to_le_bytes());
        f.extend([b'0', b'a', b'.']);
        f.extend(7u64.to_le_bytes());
        for v in 0..7 {
            f.extend((v as f32).to_le_bytes());
        }
        f
    }

    #[test]
    fn reads_a_strided_tensor_at_an_offset() {
        let t = read_state_dict(&tiny_file("FloatStorage")).unwrap();
        let w = &t["w"];
        assert_eq!(w.shape, vec![2, 3]);
        // element (i, j) = storage[1 + i + 2j]
        assert_eq!(w.data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    }

    #[test]
    fn refuses_non_float_storage() {
        let mut f = tiny_file("DoubleStorage");
        // The storage is now 7 doubles: append the missing bytes.
        f.extend([0u8; 28]);
        assert!(matches!(
            read_state_dict(&f),
            Err(TorchLoadError::UnsupportedDtype { .. })
        ));
    }

    #[test]
    fn refuses_truncation_anywhere_without_panicking() {
        let f = tiny_file("FloatStorage");
        for cut in 0..f.len() {
            assert!(read_state_dict(&f[..cut]).is_err(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn refuses_zip_checkpoints_and_garbage() {
        assert!(matches!(
            read_state_dict(b"PK\x03\x04rest"),
            Err(TorchLoadError::NotLegacy(_))
        ));
        assert!(read_state_dict(b"\x80\x02K\x01.").is_err());
        assert!(matches!(
            read_state_dict(b"\x80\x02\xff"),
            Err(TorchLoadError::UnsupportedOpcode { opcode: 0xff, .. })
        ));
    }
}
