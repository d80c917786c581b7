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

/// Refusals that waiting will not fix: the reply's prefix and what to do about it.
const REFUSALS: &[(&str, &str)] = &[
    (
        "-DENIED",
        "add `--protected-mode no` to the service's command (`command = [\"redis-server\", \"--protected-mode\", \"no\"]`), or give Redis a password (`--requirepass` in its command; onramp's probe and .env take it from there)",
    ),
    (
        "-NOAUTH",
        "Redis wants a password onramp does not know: put it in the service's command as `--requirepass`, or in REDIS_PASSWORD in its environment, or as `password` under its probe",
    ),
    (
        "-WRONGPASS",
        "make REDIS_PASSWORD (or the probe's `user`/`password`) match the server's `--requirepass` or ACL user",
    ),
    (
        "-ERR INVALID PASSWORD",
        "make REDIS_PASSWORD (or the probe's `password`) match the server's `--requirepass`",
    ),
    (
        "-ERR AUTH <PASSWORD> CALLED WITHOUT ANY PASSWORD CONFIGURED",
        "the server has no password: remove REDIS_PASSWORD (or the probe's `password`), or add `--requirepass` to the service's command",
    ),
];

/// Judge one reply line.
pub fn judge(line: &str, expect: &str) -> ProbeResult {
    let line = line.trim_end();
    if line == expect {
        return Ok(());
    }
    let upper = line.to_ascii_uppercase();
    if let Some((_, fix)) = REFUSALS.iter().find(|(p, _)| upper.starts_with(p)) {
        let words = first_sentence(line.strip_prefix('-').unwrap_or(line));
        return Err(ProbeError::Fatal(format!(
            "Redis refused the connection: {words}; fix: {fix}"
        )));
    }
    if upper.starts_with("-LOADING") {
        return Err(ProbeError::NotYet("Redis is loading its dataset".into()));
    }
    Err(ProbeError::NotYet(format!("Redis answered {line:?}")))
}

/// The server's words up to the end of the first sentence (Redis's `-DENIED` goes on for a
/// paragraph of advice; the first sentence says what is wrong).
fn first_sentence(words: &str) -> &str {
    match words.find(". ") {
        Some(i) => &words[..i],
        None => words.trim_end_matches('.'),
    }
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
        assert!(
            !judge("-BUSY Redis is busy running a script\r\n", "+PONG")
                .unwrap_err()
                .is_fatal()
        );
    }

    #[test]
    fn permanent_refusals_are_fatal_with_the_servers_words_and_a_fix() {
        let cases = [
            (
                "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface.\r\n",
                "+PONG",
                "--protected-mode no",
            ),
            (
                "-NOAUTH Authentication required.\r\n",
                "+PONG",
                "REDIS_PASSWORD",
            ),
            (
                "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
                "+OK",
                "--requirepass",
            ),
            ("-ERR invalid password\r\n", "+OK", "--requirepass"),
            (
                "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
                "+OK",
                "remove REDIS_PASSWORD",
            ),
        ];
        let denied = judge(cases[0].0, "+PONG").unwrap_err().to_string();
        assert!(
            denied.contains(
                "no password is set for the default user; fix: add `--protected-mode no`"
            ) && !denied.contains("CONFIG SET"),
            "{denied}"
        );
        for (reply, expect, fix) in cases {
            let e = judge(reply, expect).unwrap_err();
            let text = e.to_string();
            let words = first_sentence(reply.trim_end().trim_start_matches('-'));
            assert!(e.is_fatal(), "{reply}");
            assert!(text.contains(words), "{text}");
            assert!(text.contains(fix), "{text}");
        }
    }

    #[test]
    fn commands_are_resp_arrays() {
        assert_eq!(command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
    }
}
