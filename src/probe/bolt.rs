//! Neo4j over Bolt: handshake, HELLO with basic auth, `RUN "RETURN 1"`, PULL, a record of 1.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ProbeError, ProbeResult, Target, connect, io_not_yet, read_exact};

const MAGIC: [u8; 4] = [0x60, 0x60, 0xB0, 0x17];
/// Bolt 5.0 (auth in HELLO; 5.1+ moved it to LOGON), 4.4, 4.0, 3.
const VERSIONS: [[u8; 4]; 4] = [[0, 0, 0, 5], [0, 0, 4, 4], [0, 0, 0, 4], [0, 0, 0, 3]];

const HELLO: u8 = 0x01;
const RUN: u8 = 0x10;
const PULL: u8 = 0x3F;
const SUCCESS: u8 = 0x70;
const RECORD: u8 = 0x71;
const IGNORED: u8 = 0x7E;
const FAILURE: u8 = 0x7F;

/// The PackStream values a probe needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Map(Vec<(String, Value)>),
    Struct(u8, Vec<Value>),
    Bytes(Vec<u8>),
}

impl Value {
    fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn str_val(s: &str) -> Value {
    Value::Str(s.to_string())
}

pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0xC0),
        Value::Bool(b) => out.push(if *b { 0xC3 } else { 0xC2 }),
        Value::Int(i) => encode_int(*i, out),
        Value::Float(f) => {
            out.push(0xC1);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => {
            header(s.len(), 0x80, [0xD0, 0xD1, 0xD2], out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            header(b.len(), 0xFF, [0xCC, 0xCD, 0xCE], out);
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            header(items.len(), 0x90, [0xD4, 0xD5, 0xD6], out);
            items.iter().for_each(|i| encode(i, out));
        }
        Value::Map(entries) => {
            header(entries.len(), 0xA0, [0xD8, 0xD9, 0xDA], out);
            for (k, v) in entries {
                encode(&str_val(k), out);
                encode(v, out);
            }
        }
        Value::Struct(tag, fields) => {
            out.push(0xB0 | fields.len() as u8);
            out.push(*tag);
            fields.iter().for_each(|f| encode(f, out));
        }
    }
}

/// Size marker: tiny (`tiny | n`, when `tiny` is not 0xFF and n < 16), else 8/16/32-bit.
fn header(n: usize, tiny: u8, sized: [u8; 3], out: &mut Vec<u8>) {
    if tiny != 0xFF && n < 16 {
        out.push(tiny | n as u8);
    } else if n <= 0xFF {
        out.extend_from_slice(&[sized[0], n as u8]);
    } else if n <= 0xFFFF {
        out.push(sized[1]);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(sized[2]);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_int(i: i64, out: &mut Vec<u8>) {
    if (-16..=127).contains(&i) {
        out.push(i as i8 as u8);
    } else if i8::try_from(i).is_ok() {
        out.extend_from_slice(&[0xC8, i as i8 as u8]);
    } else if let Ok(v) = i16::try_from(i) {
        out.push(0xC9);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i32::try_from(i) {
        out.push(0xCA);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xCB);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

/// Decode one value from the front of `b`, advancing it.
/// A PackStream message that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl From<String> for DecodeError {
    fn from(s: String) -> DecodeError {
        DecodeError(s)
    }
}

impl From<&str> for DecodeError {
    fn from(s: &str) -> DecodeError {
        DecodeError(s.to_string())
    }
}

pub fn decode(b: &mut &[u8]) -> Result<Value, DecodeError> {
    let marker = take(b, 1)?[0];
    let hi = marker & 0xF0;
    let lo = (marker & 0x0F) as usize;
    match marker {
        0x00..=0x7F => Ok(Value::Int(i64::from(marker))),
        0xF0..=0xFF => Ok(Value::Int(i64::from(marker as i8))),
        _ if hi == 0x80 => string(b, lo),
        _ if hi == 0x90 => list(b, lo),
        _ if hi == 0xA0 => map(b, lo),
        _ if hi == 0xB0 => {
            let tag = take(b, 1)?[0];
            let fields = (0..lo).map(|_| decode(b)).collect::<Result<_, _>>()?;
            Ok(Value::Struct(tag, fields))
        }
        0xC0 => Ok(Value::Null),
        0xC1 => Ok(Value::Float(f64::from_be_bytes(arr(take(b, 8)?)))),
        0xC2 => Ok(Value::Bool(false)),
        0xC3 => Ok(Value::Bool(true)),
        0xC8 => Ok(Value::Int(i64::from(take(b, 1)?[0] as i8))),
        0xC9 => Ok(Value::Int(i64::from(i16::from_be_bytes(arr(take(b, 2)?))))),
        0xCA => Ok(Value::Int(i64::from(i32::from_be_bytes(arr(take(b, 4)?))))),
        0xCB => Ok(Value::Int(i64::from_be_bytes(arr(take(b, 8)?)))),
        0xCC..=0xCE => {
            let n = size(b, marker - 0xCC)?;
            Ok(Value::Bytes(take(b, n)?.to_vec()))
        }
        0xD0..=0xD2 => {
            let n = size(b, marker - 0xD0)?;
            string(b, n)
        }
        0xD4..=0xD6 => {
            let n = size(b, marker - 0xD4)?;
            list(b, n)
        }
        0xD8..=0xDA => {
            let n = size(b, marker - 0xD8)?;
            map(b, n)
        }
        _ => Err(format!("unknown PackStream marker 0x{marker:02X}").into()),
    }
}

fn arr<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    a
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if b.len() < n {
        return Err("truncated PackStream value".into());
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    Ok(head)
}

fn size(b: &mut &[u8], width: u8) -> Result<usize, DecodeError> {
    Ok(match width {
        0 => take(b, 1)?[0] as usize,
        1 => u16::from_be_bytes(arr(take(b, 2)?)) as usize,
        _ => u32::from_be_bytes(arr(take(b, 4)?)) as usize,
    })
}

fn string(b: &mut &[u8], n: usize) -> Result<Value, DecodeError> {
    Ok(Value::Str(
        String::from_utf8_lossy(take(b, n)?).into_owned(),
    ))
}

fn list(b: &mut &[u8], n: usize) -> Result<Value, DecodeError> {
    Ok(Value::List(
        (0..n).map(|_| decode(b)).collect::<Result<_, _>>()?,
    ))
}

fn map(b: &mut &[u8], n: usize) -> Result<Value, DecodeError> {
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let k = match decode(b)? {
            Value::Str(s) => s,
            other => return Err(format!("map key is not a string: {other:?}").into()),
        };
        entries.push((k, decode(b)?));
    }
    Ok(Value::Map(entries))
}

/// One message in chunks, ended by a zero-size chunk.
pub fn chunk(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in message.chunks(0xFFFF) {
        out.extend_from_slice(&(part.len() as u16).to_be_bytes());
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&[0, 0]);
    out
}

fn message(tag: u8, fields: Vec<Value>) -> Vec<u8> {
    let mut body = Vec::new();
    encode(&Value::Struct(tag, fields), &mut body);
    chunk(&body)
}

pub fn hello(user: Option<&str>, password: Option<&str>) -> Vec<u8> {
    let mut extra = vec![(
        "user_agent".to_string(),
        str_val(concat!("onramp/", env!("CARGO_PKG_VERSION"))),
    )];
    match (user, password) {
        (Some(u), Some(p)) => extra.extend([
            ("scheme".to_string(), str_val("basic")),
            ("principal".to_string(), str_val(u)),
            ("credentials".to_string(), str_val(p)),
        ]),
        _ => extra.push(("scheme".to_string(), str_val("none"))),
    }
    message(HELLO, vec![Value::Map(extra)])
}

async fn read_message(s: &mut TcpStream) -> Result<Value, ProbeError> {
    let mut body = Vec::new();
    loop {
        let n = s.read_u16().await.map_err(io_not_yet)? as usize;
        if n == 0 {
            if body.is_empty() {
                continue; // a NOOP chunk
            }
            break;
        }
        body.extend(read_exact(s, n).await?);
    }
    decode(&mut body.as_slice()).map_err(|e| ProbeError::Fatal(format!("Neo4j: {e}")))
}

/// The failure a FAILURE message carries: fatal for `Neo.ClientError.Security.*` (wrong
/// credentials, too many attempts, forbidden), which waiting will not fix.
fn failure(meta: Option<&Value>) -> ProbeError {
    let code = meta
        .and_then(|m| m.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    let msg = meta
        .and_then(|m| m.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if code.starts_with("Neo.ClientError.Security.") {
        let what = if code.ends_with(".Unauthorized") || code.ends_with(".AuthenticationRateLimit")
        {
            "authentication failed"
        } else {
            "not allowed"
        };
        ProbeError::Fatal(format!(
            "Neo4j refused the connection ({what}): {msg} ({code}); fix: make NEO4J_AUTH (`user/password`) or the probe's `user`/`password` match the server's; a data volume keeps the password it was initialised with (`onramp down --volumes` starts afresh, losing its data)"
        ))
    } else {
        ProbeError::NotYet(format!("Neo4j: {msg} ({code})"))
    }
}

async fn expect_success(s: &mut TcpStream) -> Result<Vec<Value>, ProbeError> {
    let mut records = Vec::new();
    loop {
        match read_message(s).await? {
            Value::Struct(SUCCESS, _) => return Ok(records),
            Value::Struct(RECORD, fields) => records.extend(fields),
            Value::Struct(FAILURE, fields) => return Err(failure(fields.first())),
            Value::Struct(IGNORED, _) => {
                return Err(ProbeError::NotYet("Neo4j ignored the request".into()));
            }
            other => {
                return Err(ProbeError::Fatal(format!(
                    "Neo4j: unexpected message {other:?}"
                )));
            }
        }
    }
}

pub async fn probe(t: &Target) -> ProbeResult {
    let mut s = connect(t).await?;
    let mut hs = MAGIC.to_vec();
    VERSIONS.iter().for_each(|v| hs.extend_from_slice(v));
    s.write_all(&hs).await.map_err(io_not_yet)?;
    let chosen = read_exact(&mut s, 4).await?;
    let major = chosen[3];
    if major == 0 {
        return Err(ProbeError::Fatal(
            "Neo4j: the server supports none of Bolt 3, 4.0, 4.4 or 5.0".into(),
        ));
    }
    if chosen == b"HTTP"[..] {
        return Err(ProbeError::Fatal("this port answers HTTP, not Bolt".into()));
    }
    s.write_all(&hello(t.user.as_deref(), t.password.as_deref()))
        .await
        .map_err(io_not_yet)?;
    expect_success(&mut s).await?;
    let mut run_fields = vec![str_val("RETURN 1"), Value::Map(vec![]), Value::Map(vec![])];
    if let Some(db) = &t.database {
        run_fields[2] = Value::Map(vec![("db".into(), str_val(db))]);
    }
    let pull = if major >= 4 {
        message(PULL, vec![Value::Map(vec![("n".into(), Value::Int(-1))])])
    } else {
        message(PULL, vec![])
    };
    let mut out = message(RUN, run_fields);
    out.extend(pull);
    s.write_all(&out).await.map_err(io_not_yet)?;
    expect_success(&mut s).await?;
    let records = expect_success(&mut s).await?;
    match records.first() {
        Some(Value::List(row)) if row.first() == Some(&Value::Int(1)) => Ok(()),
        other => Err(ProbeError::NotYet(format!(
            "Neo4j: RETURN 1 gave {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: Value) {
        let mut b = Vec::new();
        encode(&v, &mut b);
        assert_eq!(decode(&mut b.as_slice()).unwrap(), v);
    }

    #[test]
    fn packstream_roundtrips() {
        for i in [0, -16, -17, 127, 128, -129, 40000, -40000, 1 << 40] {
            roundtrip(Value::Int(i));
        }
        roundtrip(Value::Str("x".repeat(20)));
        roundtrip(Value::Str("x".repeat(300)));
        roundtrip(Value::Map(vec![(
            "a".into(),
            Value::List(vec![Value::Null, Value::Bool(true)]),
        )]));
        roundtrip(Value::Struct(0x70, vec![Value::Map(vec![])]));
        roundtrip(Value::Float(1.5));
    }

    #[test]
    fn known_encodings() {
        // From the PackStream specification's examples.
        let mut b = Vec::new();
        encode(&Value::Int(-16), &mut b);
        encode(&str_val("a"), &mut b);
        encode(&Value::Map(vec![("a".into(), Value::Int(1))]), &mut b);
        assert_eq!(b, [0xF0, 0x81, 0x61, 0xA1, 0x81, 0x61, 0x01]);
    }

    #[test]
    fn unauthorized_is_fatal() {
        let meta = Value::Map(vec![
            (
                "code".into(),
                str_val("Neo.ClientError.Security.Unauthorized"),
            ),
            (
                "message".into(),
                str_val("The client is unauthorized due to authentication failure."),
            ),
        ]);
        let e = failure(Some(&meta));
        let text = e.to_string();
        assert!(e.is_fatal(), "{text}");
        assert!(
            text.contains("authentication failure") && text.contains("NEO4J_AUTH"),
            "{text}"
        );
        let meta = |code: &str| {
            Value::Map(vec![
                ("code".into(), str_val(code)),
                ("message".into(), str_val("m")),
            ])
        };
        assert!(failure(Some(&meta("Neo.ClientError.Security.Forbidden"))).is_fatal());
        assert!(
            failure(Some(&meta(
                "Neo.ClientError.Security.AuthenticationRateLimit"
            )))
            .is_fatal()
        );
        assert!(
            !failure(Some(&meta(
                "Neo.TransientError.General.DatabaseUnavailable"
            )))
            .is_fatal()
        );
    }

    #[test]
    fn messages_are_chunked_and_terminated() {
        let m = chunk(&[1, 2, 3]);
        assert_eq!(m, [0, 3, 1, 2, 3, 0, 0]);
    }
}
