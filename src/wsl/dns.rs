//! Whether a nameserver answers: one DNS query over UDP for the root zone's NS records (a
//! question every recursive resolver can answer, naming no host), judged by its reply code.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The query: id, flags (recursion desired), one question: the root name, type NS, class IN.
fn query(id: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(17);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(&[0x00, 0x00, 0x02, 0x00, 0x01]);
    q
}

/// A reply to query `id` that resolved (NOERROR or NXDOMAIN); SERVFAIL and REFUSED are the
/// resolver failing upstream (the VPN case), not answering.
pub fn resolved(reply: &[u8], id: u16) -> bool {
    if reply.len() < 12 || reply[..2] != id.to_be_bytes() || reply[2] & 0x80 == 0 {
        return false;
    }
    matches!(reply[3] & 0x0F, 0 | 3)
}

/// Ask `nameserver` (an IP address) once, waiting up to `wait`.
pub async fn answers(nameserver: &str, wait: Duration) -> bool {
    let Ok(ip) = nameserver.parse::<IpAddr>() else {
        return false;
    };
    ask(SocketAddr::new(ip, 53), wait).await
}

pub async fn ask(server: SocketAddr, wait: Duration) -> bool {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let Ok(sock) = tokio::net::UdpSocket::bind(bind).await else {
        return false;
    };
    let id = crate::host::system_now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() & 0xFFFF)
        .unwrap_or(0x5A5A) as u16;
    if sock.send_to(&query(id), server).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    let got = tokio::time::timeout(wait, async {
        loop {
            match sock.recv_from(&mut buf).await {
                Ok((n, from)) if from == server => return resolved(&buf[..n], id),
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    })
    .await;
    got.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver on 127.0.0.1 answering every query with `rcode`.
    async fn resolver(rcode: u8) -> SocketAddr {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = sock.recv_from(&mut buf).await {
                let mut reply = buf[..n].to_vec();
                reply[2] |= 0x80;
                reply[3] = (reply[3] & 0xF0) | rcode;
                let _ = sock.send_to(&reply, from).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_resolver_that_answers_and_one_that_fails_upstream() {
        assert!(ask(resolver(0).await, Duration::from_secs(2)).await);
        assert!(!ask(resolver(2).await, Duration::from_secs(2)).await);
    }

    #[tokio::test]
    async fn silence_is_not_an_answer() {
        let quiet = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = quiet.local_addr().unwrap();
        assert!(!ask(addr, Duration::from_millis(200)).await);
        assert!(!answers("not-an-ip", Duration::from_millis(10)).await);
    }

    #[test]
    fn replies_are_matched_by_id_and_judged_by_code() {
        let mut r = query(7);
        r[2] |= 0x80;
        assert!(resolved(&r, 7));
        assert!(!resolved(&r, 8));
        r[3] |= 5;
        assert!(!resolved(&r, 7));
        assert!(!resolved(&query(7), 7), "a query is not a reply");
    }
}
