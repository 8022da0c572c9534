//! Just enough HTTP/1.1 for a local speech service: one request per
//! connection (every response says `Connection: close`), requests with a
//! `Content-Length` body, fixed-length and chunked responses. Every read runs
//! against one deadline for the whole request, so a slow or stalled client
//! costs a connection for a bounded time and never a synthesis slot.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// Largest request head (request line and headers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers accepted in one request.
const MAX_HEADERS: usize = 48;

/// A parsed request head.
#[derive(Debug, Clone)]
pub struct Head {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read; each maps to one status code.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The client sent nothing or closed early (no response is possible).
    #[error("client closed the connection")]
    Closed,
    /// The deadline for the whole request passed.
    #[error("the request was not received within {0:?}")]
    Timeout(Duration),
    /// The head is not valid HTTP/1.x.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The head is over [`MAX_HEAD_BYTES`] or has too many headers.
    #[error("request head is too large")]
    HeadTooLarge,
    /// The body has no length (chunked uploads are not accepted).
    #[error("a request body needs a Content-Length header")]
    LengthRequired,
    /// The body is over the configured limit.
    #[error("request body of {length} bytes is over the {limit} byte limit")]
    BodyTooLarge {
        /// Declared length.
        length: u64,
        /// The limit.
        limit: usize,
    },
    /// A socket error.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

impl ReadError {
    /// The status and message to answer with, if any answer can be sent.
    pub fn status(&self) -> Option<u16> {
        match self {
            ReadError::Closed | ReadError::Io(_) => None,
            ReadError::Timeout(_) => Some(408),
            ReadError::Malformed(_) => Some(400),
            ReadError::HeadTooLarge => Some(431),
            ReadError::LengthRequired => Some(411),
            ReadError::BodyTooLarge { .. } => Some(413),
        }
    }
}

/// Reads from a socket against one deadline for everything it reads.
pub struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    budget: Duration,
    /// Bytes read past the head (the start of the body).
    carry: Vec<u8>,
}

impl<'a> DeadlineReader<'a> {
    /// A reader that must finish within `budget` from now.
    pub fn new(stream: &'a TcpStream, budget: Duration) -> Self {
        DeadlineReader { stream, deadline: Instant::now() + budget, budget, carry: Vec::new() }
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, ReadError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout(self.budget));
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut stream = self.stream;
        loop {
            match stream.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err(ReadError::Timeout(self.budget))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads and parses the request head.
    pub fn read_head(&mut self) -> Result<Head, ReadError> {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 2048];
        loop {
            let n = self.read_some(&mut chunk)?;
            if n == 0 {
                return Err(if buf.is_empty() { ReadError::Closed } else { ReadError::Malformed("the request head is incomplete".into()) });
            }
            buf.extend_from_slice(&chunk[..n]);
            match parse_head(&buf)? {
                Some((head, used)) => {
                    self.carry = buf[used..].to_vec();
                    return Ok(head);
                }
                None if buf.len() > MAX_HEAD_BYTES => return Err(ReadError::HeadTooLarge),
                None => {}
            }
        }
    }

    /// Reads exactly `length` body bytes (the caller has checked the limit).
    pub fn read_body(&mut self, length: usize) -> Result<Vec<u8>, ReadError> {
        let mut body = std::mem::take(&mut self.carry);
        if body.len() > length {
            // Pipelined bytes after the body: this server answers one request per connection.
            body.truncate(length);
        }
        let mut chunk = [0u8; 8192];
        while body.len() < length {
            let want = (length - body.len()).min(chunk.len());
            let n = self.read_some(&mut chunk[..want])?;
            if n == 0 {
                return Err(ReadError::Malformed(format!("the body ended after {} of {length} bytes", body.len())));
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Ok(body)
    }
}

/// Parses a complete head from the start of `buf`; `None` if more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let used = match req.parse(buf) {
        Ok(httparse::Status::Complete(used)) => used,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ReadError::HeadTooLarge),
        Err(e) => return Err(ReadError::Malformed(e.to_string())),
    };
    let method = req.method.unwrap_or_default().to_string();
    let target = req.path.unwrap_or_default();
    let path = target.split(['?', '#']).next().unwrap_or_default().to_string();
    let mut out = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| ReadError::Malformed(format!("header {} is not UTF-8", h.name)))?
            .trim()
            .to_string();
        out.push((h.name.to_ascii_lowercase(), value));
    }
    Ok(Some((Head { method, path, headers: out }, used)))
}

/// The declared body length: `Ok(0)` when there is no body; chunked
/// uploads and bad or conflicting lengths are refused.
pub fn body_length(head: &Head, limit: usize) -> Result<usize, ReadError> {
    if head.header("transfer-encoding").is_some() {
        return Err(ReadError::LengthRequired);
    }
    let lengths: Vec<&str> = head.headers.iter().filter(|(n, _)| n == "content-length").map(|(_, v)| v.as_str()).collect();
    let Some(first) = lengths.first() else { return Ok(0) };
    if lengths.iter().any(|v| v != first) {
        return Err(ReadError::Malformed("conflicting Content-Length headers".into()));
    }
    let length: u64 = first.parse().map_err(|_| ReadError::Malformed(format!("bad Content-Length `{first}`")))?;
    if length > limit as u64 {
        return Err(ReadError::BodyTooLarge { length, limit });
    }
    Ok(length as usize)
}

/// The reason phrase of the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn head_bytes(status: u16, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\nConnection: close\r\nServer: avow\r\n", reason(status));
    for (name, value) in headers {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Writes a complete response with a fixed-length body.
pub fn write_response(stream: &mut impl Write, status: u16, headers: &[(&str, String)], body: &[u8]) -> std::io::Result<()> {
    let mut all: Vec<(&str, String)> = headers.to_vec();
    all.push(("Content-Length", body.len().to_string()));
    let mut bytes = head_bytes(status, &all);
    bytes.extend_from_slice(body);
    stream.write_all(&bytes)?;
    stream.flush()
}

/// A response body sent with chunked transfer encoding, piece by piece as
/// it is produced. Dropping it without [`ChunkedBody::finish`] leaves the
/// response without its final chunk, which clients report as an incomplete
/// transfer: that is how an error after the status line is signalled.
pub struct ChunkedBody<'a, W: Write> {
    out: &'a mut W,
}

impl<'a, W: Write> ChunkedBody<'a, W> {
    /// Sends the status line and headers.
    pub fn start(out: &'a mut W, status: u16, headers: &[(&str, String)]) -> std::io::Result<Self> {
        let mut all: Vec<(&str, String)> = headers.to_vec();
        all.push(("Transfer-Encoding", "chunked".into()));
        out.write_all(&head_bytes(status, &all))?;
        out.flush()?;
        Ok(ChunkedBody { out })
    }

    /// Sends one chunk (nothing for empty data: an empty chunk would end the body).
    pub fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\r\n");
        self.out.write_all(&bytes)?;
        self.out.flush()
    }

    /// Sends the final chunk.
    pub fn finish(self) -> std::io::Result<()> {
        self.out.write_all(b"0\r\n\r\n")?;
        self.out.flush()
    }
}

/// Closes a connection so the client reads the whole response: closing a
/// socket with unread request bytes makes the kernel send a reset, which can
/// discard a response (a 413 or 429) the client has not read yet. So: stop
/// writing, then read and drop what is left for up to `linger`.
pub fn close_gracefully(stream: &TcpStream, linger: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + linger;
    let mut sink = [0u8; 8192];
    let mut drained = 0usize;
    let mut reader = stream;
    while drained < 4 << 20 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        parse_head(raw.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn heads_parse_with_lowercase_names_and_no_query() {
        let h = head("POST /v1/audio/speech?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n{\"a\":1}");
        assert_eq!((h.method.as_str(), h.path.as_str()), ("POST", "/v1/audio/speech"));
        assert_eq!(h.header("content-length"), Some("12"));
        assert!(parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none(), "an unfinished head needs more bytes");
        assert!(matches!(parse_head(b"G\0T / HTTP/1.1\r\n\r\n"), Err(ReadError::Malformed(_))));
    }

    #[test]
    fn body_lengths_are_bounded_and_must_be_declared() {
        let limit = 100;
        assert_eq!(body_length(&head("GET / HTTP/1.1\r\n\r\n"), limit).unwrap(), 0);
        assert_eq!(body_length(&head("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"), limit).unwrap(), 100);
        assert!(matches!(
            body_length(&head("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n"), limit),
            Err(ReadError::BodyTooLarge { length: 101, limit: 100 })
        ));
        assert!(matches!(
            body_length(&head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), limit),
            Err(ReadError::LengthRequired)
        ));
        assert!(matches!(
            body_length(&head("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), limit),
            Err(ReadError::Malformed(_))
        ));
        assert!(matches!(body_length(&head("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), limit), Err(ReadError::Malformed(_))));
    }

    #[test]
    fn chunked_bodies_frame_each_piece_and_end_with_a_zero_chunk() {
        let mut out = Vec::new();
        {
            let mut body = ChunkedBody::start(&mut out, 200, &[("Content-Type", "audio/pcm".into())]).unwrap();
            body.send(b"hello").unwrap();
            body.send(b"").unwrap();
            body.send(&[7u8; 20]).unwrap();
            body.finish().unwrap();
        }
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Transfer-Encoding: chunked\r\n"));
        let body = &out[text.find("\r\n\r\n").unwrap() + 4..];
        let mut expected = b"5\r\nhello\r\n14\r\n".to_vec();
        expected.extend_from_slice(&[7u8; 20]);
        expected.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(body, expected.as_slice());
    }
}
