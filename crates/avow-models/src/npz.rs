//! A strict reader for NumPy `.npz` archives of little-endian f32 arrays.
//!
//! Only what the voice tables need: `<f4`, C order, one expected shape.
//! Anything else is refused rather than guessed at.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

/// Errors reading an `.npz` or `.npy`.
#[derive(Debug, thiserror::Error)]
pub enum NpzError {
    /// The archive itself is unreadable.
    #[error("not a readable .npz archive: {0}")]
    Archive(String),
    /// An array's header or data is not what this reader accepts.
    #[error("array `{name}`: {detail}")]
    Array {
        /// Array name (member name without `.npy`).
        name: String,
        /// What is wrong.
        detail: String,
    },
}

/// Largest `.npy` member read (a voice table is 0.5 MB).
const MAX_MEMBER: u64 = 64 * 1024 * 1024;

/// Reads every array of an `.npz`, requiring each to be `<f4`, C order, of
/// shape `shape`, with finite values. Returns name → flat row-major values.
pub fn read_npz_f32(bytes: &[u8], shape: &[usize]) -> Result<BTreeMap<String, Vec<f32>>, NpzError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| NpzError::Archive(e.to_string()))?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| NpzError::Archive(e.to_string()))?;
        let member = entry
            .name()
            .map_err(|e| NpzError::Archive(e.to_string()))?
            .to_string();
        let Some(name) = member.strip_suffix(".npy") else {
            return Err(NpzError::Archive(format!(
                "unexpected member `{member}` (not .npy)"
            )));
        };
        let name = name.to_string();
        if entry.size() > MAX_MEMBER {
            return Err(NpzError::Array {
                name,
                detail: format!("{} bytes is too large", entry.size()),
            });
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut data).map_err(|e| NpzError::Array {
            name: name.clone(),
            detail: e.to_string(),
        })?;
        let values = parse_npy_f32(&data, shape).map_err(|detail| NpzError::Array {
            name: name.clone(),
            detail,
        })?;
        out.insert(name, values);
    }
    Ok(out)
}

/// Parses one `.npy` file holding a `<f4` C-order array of exactly `shape`.
pub fn parse_npy_f32(data: &[u8], shape: &[usize]) -> Result<Vec<f32>, String> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if data.len() < 10 || &data[..6] != MAGIC {
        return Err("not an .npy file (bad magic)".into());
    }
    let major = data[6];
    let (header_len, start): (usize, usize) = match major {
        1 => (u16::from_le_bytes([data[8], data[9]]) as usize, 10),
        2 | 3 => {
            if data.len() < 12 {
                return Err("truncated header".into());
            }
            (
                u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= data.len())
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(&data[start..end]).map_err(|_| "header is not text")?;
    let dict = parse_header(header)?;
    match dict.descr.as_str() {
        "<f4" => {}
        // A single-byte-order-agnostic spelling numpy never writes for f4;
        // anything else (big-endian, f8, ints) is a different array.
        d => {
            return Err(format!(
                "dtype `{d}`, expected `<f4` (little-endian float32)"
            ))
        }
    }
    if dict.fortran_order {
        return Err("Fortran order, expected C order".into());
    }
    if dict.shape != shape {
        return Err(format!("shape {:?}, expected {:?}", dict.shape, shape));
    }
    let count: usize = shape.iter().product();
    let body = &data[end..];
    if body.len() != count * 4 {
        return Err(format!("{} data bytes, expected {}", body.len(), count * 4));
    }
    let values: Vec<f32> = body
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!("value {i} is NaN or infinite"));
    }
    Ok(values)
}

struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the Python dict literal numpy writes, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (510, 1, 256), }`.
fn parse_header(text: &str) -> Result<Header, String> {
    let t = text.trim_end_matches(['\n', ' ', '\0']).trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| format!("header `{t}` is not a dict"))?;
    let mut descr = None;
    let mut fortran = None;
    let mut shape = None;
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let (key, after) = quoted(rest).ok_or_else(|| format!("bad key in header `{t}`"))?;
        let after = after
            .trim_start()
            .strip_prefix(':')
            .ok_or_else(|| format!("missing `:` in header `{t}`"))?;
        let after = after.trim_start();
        let after = match key {
            "descr" => {
                let (v, a) = quoted(after).ok_or("descr is not a string")?;
                descr = Some(v.to_string());
                a
            }
            "fortran_order" => {
                if let Some(a) = after.strip_prefix("False") {
                    fortran = Some(false);
                    a
                } else if let Some(a) = after.strip_prefix("True") {
                    fortran = Some(true);
                    a
                } else {
                    return Err("fortran_order is not True/False".into());
                }
            }
            "shape" => {
                let a = after.strip_prefix('(').ok_or("shape is not a tuple")?;
                let close = a.find(')').ok_or("shape tuple is not closed")?;
                let dims = a[..close]
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<usize>()
                            .map_err(|_| format!("bad dimension `{s}`"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                shape = Some(dims);
                &a[close + 1..]
            }
            other => return Err(format!("unexpected header key `{other}`")),
        };
        let after = after.trim_start();
        rest = after.strip_prefix(',').unwrap_or(after).trim_start();
        if !after.starts_with(',') && !rest.is_empty() {
            return Err(format!("missing `,` in header `{t}`"));
        }
    }
    Ok(Header {
        descr: descr.ok_or("header lacks descr")?,
        fortran_order: fortran.ok_or("header lacks fortran_order")?,
        shape: shape.ok_or("header lacks shape")?,
    })
}

/// Splits a leading `'...'` or `"..."` off `s`.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &s[1..];
    let end = body.find(q)?;
    Some((&body[..end], &body[end + 1..]))
}

/// Builds `.npy` bytes (version 1) for a `<f4` C-order array; the inverse of
/// [`parse_npy_f32`], used to make test fixtures.
pub fn write_npy_f32(values: &[f32], shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // numpy pads so the data starts on a 64-byte boundary, ending in '\n'.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + values.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_numpy_header() {
        let v: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        let bytes = write_npy_f32(&v, &[2, 1, 3]);
        assert_eq!(parse_npy_f32(&bytes, &[2, 1, 3]).unwrap(), v);
        // Exactly the header numpy 1.x/2.x writes for the voice tables.
        let h =
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (510, 1, 256), }   \n")
                .unwrap();
        assert_eq!(
            (h.descr.as_str(), h.fortran_order, h.shape),
            ("<f4", false, vec![510, 1, 256])
        );
    }

    #[test]
    fn refuses_other_dtypes_orders_shapes_and_truncation() {
        let v = vec![1.0f32; 6];
        let good = write_npy_f32(&v, &[2, 3]);
        let swap = |from: &str, to: &str| {
            assert_eq!(from.len(), to.len());
            let mut b = good.clone();
            let at = b
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .unwrap();
            b[at..at + to.len()].copy_from_slice(to.as_bytes());
            b
        };
        // Same-length substitutions keep the header length field valid.
        assert!(parse_npy_f32(&swap("<f4", ">f4"), &[2, 3])
            .unwrap_err()
            .contains("dtype"));
        assert!(parse_npy_f32(&swap("<f4", "<f8"), &[2, 3])
            .unwrap_err()
            .contains("dtype"));
        assert!(parse_npy_f32(&swap("False", "True "), &[2, 3])
            .unwrap_err()
            .contains("Fortran"));
        assert!(parse_npy_f32(&good, &[3, 2]).unwrap_err().contains("shape"));
        assert!(parse_npy_f32(&good[..good.len() - 1], &[2, 3])
            .unwrap_err()
            .contains("data bytes"));
        assert!(parse_npy_f32(b"garbage!!!!!", &[2, 3]).is_err());
        let mut nan = v.clone();
        nan[4] = f32::NAN;
        assert!(parse_npy_f32(&write_npy_f32(&nan, &[2, 3]), &[2, 3])
            .unwrap_err()
            .contains("NaN"));
    }
}
