//! Redis: `AUTH` when a password is set, then `PING` answered by `PONG`.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{ProbeError, ProbeResult, Target, connect, io_not_yet};

/// A RESP array of bulk strings.
pub fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Judge one reply line.
pub fn judge(line: &str, expect: &str) -> ProbeResult {
    let line = line.trim_end();
    if line == expect {
        return Ok(());
    }
    let upper = line.to_ascii_uppercase();
    if upper.starts_with("-NOAUTH")
        || upper.starts_with("-WRONGPASS")
        || upper.contains("INVALID PASSWORD")
    {
        return Err(ProbeError::Fatal(format!(
            "Redis: authentication failed: {}",
            &line[1..]
        )));
    }
    if upper.starts_with("-LOADING") {
        return Err(ProbeError::NotYet("Redis is loading its dataset".into()));
    }
    Err(ProbeError::NotYet(format!("Redis answered {line:?}")))
}

pub async fn probe(t: &Target) -> ProbeResult {
    let s = connect(t).await?;
    let mut s = BufReader::new(s);
    if let Some(pw) = &t.password {
        let auth = match &t.user {
            Some(u) => command(&["AUTH", u, pw]),
            None => command(&["AUTH", pw]),
        };
        s.get_mut().write_all(&auth).await.map_err(io_not_yet)?;
        judge(&read_line(&mut s).await?, "+OK")?;
    }
    s.get_mut()
        .write_all(&command(&["PING"]))
        .await
        .map_err(io_not_yet)?;
    judge(&read_line(&mut s).await?, "+PONG")
}

async fn read_line(s: &mut BufReader<tokio::net::TcpStream>) -> Result<String, ProbeError> {
    let mut line = String::new();
    let n = s.read_line(&mut line).await.map_err(io_not_yet)?;
    if n == 0 {
        return Err(ProbeError::NotYet("Redis closed the connection".into()));
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_judged() {
        assert!(judge("+PONG\r\n", "+PONG").is_ok());
        assert!(
            !judge(
                "-LOADING Redis is loading the dataset in memory\r\n",
                "+PONG"
            )
            .unwrap_err()
            .is_fatal()
        );
        let e = judge(
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "+OK",
        )
        .unwrap_err();
        assert!(e.is_fatal() && e.to_string().contains("authentication failed"));
        assert!(
            judge("-NOAUTH Authentication required.\r\n", "+PONG")
                .unwrap_err()
                .is_fatal()
        );
    }

    #[test]
    fn commands_are_resp_arrays() {
        assert_eq!(command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
    }
}
