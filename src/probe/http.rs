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

pub async fn expect(t: &Target) -> ProbeResult {
    let path = t.path.as_deref().unwrap_or("/");
    let want = t.status.unwrap_or(200);
    let got = get_status(t, path).await?;
    if got == want {
        Ok(())
    } else {
        Err(ProbeError::NotYet(format!(
            "GET {path} answered {got}, expected {want}"
        )))
    }
}

pub async fn chroma(t: &Target) -> ProbeResult {
    match get_status(t, "/api/v2/heartbeat").await? {
        200 => Ok(()),
        404 => match get_status(t, "/api/v1/heartbeat").await? {
            200 => Ok(()),
            code => Err(ProbeError::NotYet(format!(
                "Chroma heartbeat answered {code}"
            ))),
        },
        code => Err(ProbeError::NotYet(format!(
            "Chroma /api/v2/heartbeat answered {code}"
        ))),
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
}
