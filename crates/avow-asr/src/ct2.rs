//! Reader for CTranslate2's `model.bin`, enough to take Whisper weights out of
//! it.
//!
//! The format (binary versions 4 to 6, little endian):
//!
//! ```text
//! u32 binary_version
//! str spec name          (u16 length including a trailing NUL, then the bytes)
//! u32 spec revision
//! u32 variable count
//!   per variable: str name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, bytes
//! u32 alias count        (versions ≥ 3)
//!   per alias: str alias, str target variable
//! ```
//!
//! Variables are borrowed from the input buffer; nothing is copied.

use std::collections::BTreeMap;

/// Errors reading a CTranslate2 model file.
#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    /// The file ends in the middle of a field.
    #[error("model.bin is truncated: {what} at byte {offset} needs {needed} bytes, {left} left")]
    Truncated {
        /// Field being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left in the file.
        left: usize,
    },
    /// A binary version this reader does not know.
    #[error("model.bin binary version {0} is not supported (this reader handles 4 to 6)")]
    UnsupportedVersion(u32),
    /// A variable's data type id is unknown.
    #[error("variable `{name}` has unknown data type id {id}")]
    UnknownDType {
        /// Variable name.
        name: String,
        /// Type id found.
        id: u8,
    },
    /// A variable's byte count disagrees with its shape and type.
    #[error("variable `{name}`: shape {shape:?} of {dtype:?} needs {expected} bytes, file says {found}")]
    SizeMismatch {
        /// Variable name.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// Its type.
        dtype: Ct2DType,
        /// Bytes implied by shape and type.
        expected: usize,
        /// Bytes recorded.
        found: usize,
    },
    /// A name is not UTF-8.
    #[error("a name at byte {0} is not UTF-8")]
    BadName(usize),
    /// Bytes after the last field.
    #[error("model.bin has {0} unexpected trailing bytes")]
    Trailing(usize),
}

/// Element types a CTranslate2 variable can have (ids as in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2DType {
    /// 32-bit float (id 0).
    F32,
    /// 8-bit signed integer (id 1), also used for boolean flags.
    I8,
    /// 16-bit signed integer (id 2).
    I16,
    /// 32-bit signed integer (id 3).
    I32,
    /// IEEE half float (id 4).
    F16,
    /// bfloat16 (id 5).
    BF16,
}

impl Ct2DType {
    fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }
}

/// One named tensor of the model, borrowing its bytes.
#[derive(Debug, Clone)]
pub struct Ct2Variable<'a> {
    /// Shape (empty for scalars).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Ct2DType,
    /// Raw little-endian element bytes.
    pub data: &'a [u8],
}

impl Ct2Variable<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for a tensor with no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of an integer scalar (flags and counts), if it is one.
    pub fn scalar_int(&self) -> Option<i64> {
        if self.len() != 1 {
            return None;
        }
        let d = self.data;
        match self.dtype {
            Ct2DType::I8 => Some(d[0] as i8 as i64),
            Ct2DType::I16 => Some(i16::from_le_bytes([d[0], d[1]]) as i64),
            Ct2DType::I32 => Some(i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64),
            _ => None,
        }
    }
}

/// A parsed `model.bin`.
#[derive(Debug, Clone)]
pub struct Ct2Model<'a> {
    /// Binary format version.
    pub binary_version: u32,
    /// Model specification name, e.g. `WhisperSpec`.
    pub spec: String,
    /// Revision of that specification.
    pub spec_revision: u32,
    variables: BTreeMap<String, Ct2Variable<'a>>,
    aliases: BTreeMap<String, String>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Ct2Error> {
        let left = self.bytes.len() - self.pos;
        if n > left {
            return Err(Ct2Error::Truncated { what, offset: self.pos, needed: n, left });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Ct2Error> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Ct2Error> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Ct2Error> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &'static str) -> Result<String, Ct2Error> {
        let start = self.pos;
        let n = self.u16(what)? as usize;
        let b = self.take(n, what)?;
        // Lengths count the C string terminator.
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        String::from_utf8(b.to_vec()).map_err(|_| Ct2Error::BadName(start))
    }
}

impl<'a> Ct2Model<'a> {
    /// Parses a whole `model.bin` held in memory.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Ct2Error> {
        let mut c = Cursor { bytes, pos: 0 };
        let binary_version = c.u32("binary version")?;
        if !(4..=6).contains(&binary_version) {
            return Err(Ct2Error::UnsupportedVersion(binary_version));
        }
        let spec = c.string("spec name")?;
        let spec_revision = c.u32("spec revision")?;
        let count = c.u32("variable count")?;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = c.string("variable name")?;
            let rank = c.u8("rank")? as usize;
            let mut shape = Vec::with_capacity(rank);
            for _ in 0..rank {
                shape.push(c.u32("dimension")? as usize);
            }
            let id = c.u8("data type")?;
            let dtype = Ct2DType::from_id(id).ok_or_else(|| Ct2Error::UnknownDType { name: name.clone(), id })?;
            let found = c.u32("byte count")? as usize;
            let expected = shape.iter().product::<usize>().saturating_mul(dtype.size());
            if expected != found {
                return Err(Ct2Error::SizeMismatch { name, shape, dtype, expected, found });
            }
            let data = c.take(found, "variable data")?;
            variables.insert(name, Ct2Variable { shape, dtype, data });
        }
        let mut aliases = BTreeMap::new();
        let alias_count = c.u32("alias count")?;
        for _ in 0..alias_count {
            let alias = c.string("alias")?;
            let target = c.string("alias target")?;
            aliases.insert(alias, target);
        }
        let trailing = bytes.len() - c.pos;
        if trailing != 0 {
            return Err(Ct2Error::Trailing(trailing));
        }
        Ok(Self { binary_version, spec, spec_revision, variables, aliases })
    }

    /// The variable called `name`, following an alias if it is one.
    pub fn get(&self, name: &str) -> Option<&Ct2Variable<'a>> {
        self.variables.get(name).or_else(|| self.aliases.get(name).and_then(|t| self.variables.get(t)))
    }

    /// Names of all stored variables (aliases excluded), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.variables.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend(((s.len() + 1) as u16).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }

    fn tiny_model() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(6u32.to_le_bytes());
        string(&mut b, "WhisperSpec");
        b.extend(3u32.to_le_bytes());
        b.extend(2u32.to_le_bytes());
        string(&mut b, "a/weight");
        b.push(2);
        b.extend(2u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.push(0);
        b.extend(8u32.to_le_bytes());
        b.extend(1.5f32.to_le_bytes());
        b.extend((-2.0f32).to_le_bytes());
        string(&mut b, "a/num_heads");
        b.push(0);
        b.push(2);
        b.extend(2u32.to_le_bytes());
        b.extend(6i16.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        string(&mut b, "b/weight");
        string(&mut b, "a/weight");
        b
    }

    #[test]
    fn reads_variables_scalars_and_aliases() {
        let bytes = tiny_model();
        let m = Ct2Model::parse(&bytes).expect("parses");
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.spec_revision, 3);
        let w = m.get("a/weight").expect("variable");
        assert_eq!(w.shape, vec![2, 1]);
        assert_eq!(w.data, &[1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()[..]);
        assert_eq!(m.get("a/num_heads").and_then(|v| v.scalar_int()), Some(6));
        assert_eq!(m.get("b/weight").map(|v| v.shape.clone()), Some(vec![2, 1]), "alias resolves");
        assert!(m.get("missing").is_none());
    }

    #[test]
    fn truncated_file_is_an_error_not_a_panic() {
        let bytes = tiny_model();
        for cut in [0, 3, 10, 30, bytes.len() - 1] {
            assert!(Ct2Model::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn size_mismatch_and_bad_version_are_reported() {
        let mut bytes = tiny_model();
        bytes[0] = 9;
        assert!(matches!(Ct2Model::parse(&bytes), Err(Ct2Error::UnsupportedVersion(9))));
        let mut bytes = tiny_model();
        // The byte count of the first variable sits right before its data.
        let pos = bytes.windows(4).position(|w| w == 8u32.to_le_bytes()).expect("byte count");
        bytes[pos] = 4;
        assert!(matches!(Ct2Model::parse(&bytes), Err(Ct2Error::SizeMismatch { .. }) | Err(Ct2Error::Trailing(_))));
    }
}
