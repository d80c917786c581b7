//! PostgreSQL: startup, password authentication (cleartext, MD5, SCRAM-SHA-256), `SELECT 1`.

use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ProbeError, ProbeResult, Target, connect, io_not_yet, read_exact, scram};

/// SQLSTATEs that waiting will not fix, once the server accepts connections over TCP (the
/// official image initialises on a unix-socket-only server, so a refusal heard on the published
/// port comes from the real server): what it means and what to do. Everything else, `57P03`
/// "the database system is starting up" first, is worth another attempt.
const FATAL_STATES: &[(&str, &str, &str)] = &[
    (
        "28P01",
        "authentication failed",
        "make POSTGRES_PASSWORD (or the probe's `password`) match the server's; a data volume keeps the password it was initialised with, so either use that one or remove the volume with `onramp down --volumes` (its data is lost)",
    ),
    (
        "28000",
        "connection refused by the server's rules",
        "check POSTGRES_USER (or the probe's `user`) and the server's pg_hba.conf; a data volume keeps the roles it was initialised with (`onramp down --volumes` starts afresh, losing its data)",
    ),
    (
        "3D000",
        "no such database",
        "set POSTGRES_DB (or the probe's `database`) to a database the server has; POSTGRES_DB only takes effect when the data volume is first initialised (`onramp down --volumes` starts afresh, losing its data)",
    ),
];

pub async fn probe(t: &Target) -> ProbeResult {
    let mut s = connect(t).await?;
    let user = t.user.as_deref().unwrap_or("postgres");
    let db = t.database.as_deref().unwrap_or(user);
    s.write_all(&startup(user, db)).await.map_err(io_not_yet)?;
    let mut sasl: Option<scram::Client> = None;
    loop {
        let (tag, body) = read_message(&mut s).await?;
        match tag {
            b'R' => {
                let code = u32_at(&body, 0)?;
                match code {
                    0 => {}
                    3 => send_password(&mut s, t.password.as_deref().unwrap_or("")).await?,
                    5 => {
                        let salt = body.get(4..8).ok_or_else(short)?;
                        let hashed = md5_password(user, t.password.as_deref().unwrap_or(""), salt);
                        send_password(&mut s, &hashed).await?;
                    }
                    10 => {
                        let c = scram::Client::new(scram::nonce());
                        s.write_all(&sasl_initial(&c.first()))
                            .await
                            .map_err(io_not_yet)?;
                        sasl = Some(c);
                    }
                    11 => {
                        let c = sasl
                            .as_ref()
                            .ok_or_else(|| fatal("SASL continue without a start"))?;
                        let server_first = String::from_utf8_lossy(&body[4..]).into_owned();
                        let (fin, _sig) = c
                            .finish(t.password.as_deref().unwrap_or(""), &server_first)
                            .map_err(|e| fatal(&e.to_string()))?;
                        s.write_all(&frame(b'p', fin.as_bytes()))
                            .await
                            .map_err(io_not_yet)?;
                    }
                    12 => {}
                    other => {
                        return Err(fatal(&format!("unsupported authentication method {other}")));
                    }
                }
            }
            b'E' => return Err(error_response(&body)),
            b'Z' => break,
            _ => {}
        }
    }
    s.write_all(&frame(b'Q', b"SELECT 1\0"))
        .await
        .map_err(io_not_yet)?;
    let mut got_row = false;
    loop {
        let (tag, body) = read_message(&mut s).await?;
        match tag {
            b'D' => got_row = true,
            b'E' => return Err(error_response(&body)),
            b'Z' => break,
            _ => {}
        }
    }
    let _ = s.write_all(&frame(b'X', b"")).await;
    if got_row {
        Ok(())
    } else {
        Err(ProbeError::NotYet("SELECT 1 returned no row".into()))
    }
}

fn short() -> ProbeError {
    ProbeError::NotYet("short message from the server".into())
}

fn fatal(msg: &str) -> ProbeError {
    ProbeError::Fatal(format!("PostgreSQL: {msg}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, ProbeError> {
    b.get(at..at + 4)
        .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]))
        .ok_or_else(short)
}

pub fn startup(user: &str, db: &str) -> Vec<u8> {
    let mut body = 196608u32.to_be_bytes().to_vec();
    for (k, v) in [
        ("user", user),
        ("database", db),
        ("application_name", "onramp"),
    ] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend(body);
    msg
}

pub fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn sasl_initial(first: &str) -> Vec<u8> {
    let mut body = b"SCRAM-SHA-256\0".to_vec();
    body.extend_from_slice(&(first.len() as u32).to_be_bytes());
    body.extend_from_slice(first.as_bytes());
    frame(b'p', &body)
}

async fn send_password(s: &mut TcpStream, pw: &str) -> ProbeResult {
    let mut body = pw.as_bytes().to_vec();
    body.push(0);
    s.write_all(&frame(b'p', &body)).await.map_err(io_not_yet)
}

pub fn md5_password(user: &str, pw: &str, salt: &[u8]) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let inner = hex(&Md5::digest(format!("{pw}{user}").as_bytes()));
    let mut outer = Md5::new();
    outer.update(inner.as_bytes());
    outer.update(salt);
    format!("md5{}", hex(&outer.finalize()))
}

async fn read_message(s: &mut TcpStream) -> Result<(u8, Vec<u8>), ProbeError> {
    let tag = s.read_u8().await.map_err(io_not_yet)?;
    let len = s.read_u32().await.map_err(io_not_yet)? as usize;
    if !(4..=1 << 24).contains(&len) {
        return Err(fatal("the server does not speak the PostgreSQL protocol"));
    }
    let body = read_exact(s, len - 4).await?;
    Ok((tag, body))
}

/// Fields of an ErrorResponse: SQLSTATE (`C`) and message (`M`).
pub fn error_fields(body: &[u8]) -> (String, String) {
    let mut code = String::new();
    let mut msg = String::new();
    for field in body.split(|b| *b == 0) {
        if let Some((&k, v)) = field.split_first() {
            let v = String::from_utf8_lossy(v).into_owned();
            match k {
                b'C' => code = v,
                b'M' => msg = v,
                _ => {}
            }
        }
    }
    (code, msg)
}

fn error_response(body: &[u8]) -> ProbeError {
    let (code, msg) = error_fields(body);
    match FATAL_STATES.iter().find(|(c, _, _)| *c == code) {
        Some((_, what, fix)) => ProbeError::Fatal(format!(
            "PostgreSQL refused the connection ({what}): {msg} (SQLSTATE {code}); fix: {fix}"
        )),
        None => ProbeError::NotYet(format!("PostgreSQL: {msg} (SQLSTATE {code})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_password_matches_postgres() {
        // 'md5' || md5(md5('secret' || 'alice') || salt), computed independently with hashlib.
        assert_eq!(
            md5_password("alice", "secret", &[1, 2, 3, 4]),
            "md598a0412b9c31436fc53776e863350083"
        );
    }

    #[test]
    fn permanent_refusals_are_fatal_and_startup_is_not() {
        let cases = [
            (
                &b"SFATAL\0C28P01\0Mpassword authentication failed for user \"u\"\0\0"[..],
                "password authentication failed for user \"u\"",
                "POSTGRES_PASSWORD",
            ),
            (
                b"SFATAL\0C28000\0Mrole \"nobody\" does not exist\0\0",
                "role \"nobody\" does not exist",
                "POSTGRES_USER",
            ),
            (
                b"SFATAL\0C3D000\0Mdatabase \"nope\" does not exist\0\0",
                "database \"nope\" does not exist",
                "POSTGRES_DB",
            ),
        ];
        for (body, words, fix) in cases {
            let e = error_response(body);
            let text = e.to_string();
            assert!(e.is_fatal(), "{text}");
            assert!(text.contains(words) && text.contains(fix), "{text}");
        }
        for body in [
            &b"SFATAL\0C57P03\0Mthe database system is starting up\0\0"[..],
            b"SFATAL\0C57P01\0Mterminating connection due to administrator command\0\0",
            b"SFATAL\0C53300\0Msorry, too many clients already\0\0",
        ] {
            assert!(!error_response(body).is_fatal());
        }
    }

    #[test]
    fn startup_message_is_length_prefixed() {
        let m = startup("u", "d");
        assert_eq!(
            u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize,
            m.len()
        );
        assert_eq!(&m[4..8], &196608u32.to_be_bytes());
    }
}
