//! HTTP probes: an expected status on a path; Chroma's heartbeat (`/api/v2`, `/api/v1` only
//! for 0.x servers, which have no v2).

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ProbeError, ProbeResult, Target, connect, io_not_yet};

/// `GET path`, returning the status code.
pub async fn get_status(t: &Target, path: &str) -> Result<u16, ProbeError> {
    let mut s = connect(t).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: onramp\r\nConnection: close\r\n\r\n",
        t.host, t.port
    );
    s.write_all(req.as_bytes()).await.map_err(io_not_yet)?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = s.read(&mut buf).await.map_err(io_not_yet)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    parse_status(&String::from_utf8_lossy(&head))
}

pub fn parse_status(head: &str) -> Result<u16, ProbeError> {
    if head.is_empty() {
        return Err(ProbeError::NotYet(
            "the server closed the connection before answering".into(),
        ));
    }
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next().and_then(|c| c.parse().ok())) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => Err(ProbeError::NotYet(format!("not an HTTP answer: {line:?}"))),
    }
}

/// Judge a status: the expected one is ready; 401, 403, 404 and 410 will not change by waiting
/// (the server is up and refuses, or has no such path); anything else is worth another attempt.
pub fn judge(path: &str, got: u16, want: u16) -> ProbeResult {
    if got == want {
        return Ok(());
    }
    let fix = match got {
        401 | 403 => Some(
            "the server wants credentials for this path: point the probe at one it serves without them (`path` under the service's probe), or expect this status (`status` under the probe)",
        ),
        404 | 410 => Some(
            "the server has no such path: set `path` under the service's probe to one it serves (or expect this status with `status`)",
        ),
        _ => None,
    };
    let words = format!("GET {path} answered {got} {}", reason(got));
    match fix {
        Some(fix) => Err(ProbeError::Fatal(format!(
            "{}; expected {want}; fix: {fix}",
            words.trim_end()
        ))),
        None => Err(ProbeError::NotYet(format!(
            "{}, expected {want}",
            words.trim_end()
        ))),
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        _ => "",
    }
}

pub async fn expect(t: &Target) -> ProbeResult {
    let path = t.path.as_deref().unwrap_or("/");
    let want = t.status.unwrap_or(200);
    let got = get_status(t, path).await?;
    judge(path, got, want)
}

pub async fn chroma(t: &Target) -> ProbeResult {
    const V2: &str = "/api/v2/heartbeat";
    const V1: &str = "/api/v1/heartbeat";
    match get_status(t, V2).await? {
        404 => match get_status(t, V1).await? {
            code @ (404 | 410) => Err(ProbeError::Fatal(format!(
                "GET {V2} and {V1} answered 404 and {code}: this port does not serve Chroma's heartbeat; fix: check the service's image and the container port its probe uses (`port` under its probe), or use `kind = \"http\"` with a `path` it serves"
            ))),
            code => judge(V1, code, 200),
        },
        code => judge(V2, code, 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(parse_status("HTTP/1.1 410 Gone\r\n").unwrap(), 410);
        assert!(parse_status("SSH-2.0-OpenSSH\r\n").is_err());
    }

    /// A server that answers every request with `status`.
    async fn answering(status: &'static str) -> Target {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf).await;
                let _ = c
                    .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        Target {
            kind: crate::profile::ProbeKind::Http,
            host: "127.0.0.1".into(),
            port,
            user: None,
            password: None,
            database: None,
            path: Some("/health".into()),
            status: None,
        }
    }

    #[tokio::test]
    async fn a_port_without_chromas_heartbeat_is_fatal_at_once() {
        let t = answering("404 Not Found").await;
        let e = chroma(&t).await.unwrap_err();
        assert!(e.is_fatal(), "{e}");
        assert!(
            e.to_string().contains("does not serve Chroma's heartbeat"),
            "{e}"
        );
        let e = expect(&t).await.unwrap_err();
        assert!(
            e.is_fatal() && e.to_string().contains("GET /health answered 404"),
            "{e}"
        );
        let t = answering("503 Service Unavailable").await;
        assert!(!chroma(&t).await.unwrap_err().is_fatal());
    }

    #[test]
    fn refusing_statuses_are_fatal_and_others_are_not() {
        assert!(judge("/", 200, 200).is_ok());
        assert!(
            judge("/secret", 401, 401).is_ok(),
            "an expected 401 is ready"
        );
        for code in [401, 403, 404, 410] {
            let e = judge("/health", code, 200).unwrap_err();
            let text = e.to_string();
            assert!(e.is_fatal(), "{text}");
            assert!(
                text.contains(&format!("GET /health answered {code}")) && text.contains("fix:"),
                "{text}"
            );
        }
        for code in [500, 502, 503, 301] {
            assert!(!judge("/health", code, 200).unwrap_err().is_fatal());
        }
    }
}
