//! Readiness in each service's own protocol, from the host, over the published port.

mod bolt;
mod http;
mod postgres;
mod redis;
mod scram;

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

use crate::profile::kinds::Connection;
use crate::profile::{ProbeKind, Service};

/// How long one attempt may take before it counts as a failed attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything a probe needs to talk to a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub kind: ProbeKind,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub database: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
}

/// Why an attempt did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Not ready yet (refused, starting, loading): try again.
    #[error("{0}")]
    NotYet(String),
    /// Will not get better by waiting: wrong password, wrong protocol.
    #[error("{0}")]
    Fatal(String),
}

impl ProbeError {
    pub fn is_fatal(&self) -> bool {
        matches!(self, ProbeError::Fatal(_))
    }
}

pub type ProbeResult = Result<(), ProbeError>;

/// The probe target of a service: its connection in the catalogue of service kinds.
pub fn target(svc: &Service) -> Option<Target> {
    crate::profile::kinds::connection(svc).map(|c| Target::from(&c))
}

impl From<&Connection> for Target {
    fn from(c: &Connection) -> Target {
        Target {
            kind: c.kind,
            host: c.host.clone(),
            port: c.port,
            user: c.user.clone(),
            password: c.password.clone(),
            database: c.database.clone(),
            path: c.path.clone(),
            status: c.status,
        }
    }
}

/// One attempt, bounded by `ATTEMPT_TIMEOUT`.
pub async fn attempt(t: &Target) -> ProbeResult {
    let work = async {
        match t.kind {
            ProbeKind::Tcp => connect(t).await.map(drop),
            ProbeKind::Postgres => postgres::probe(t).await,
            ProbeKind::Redis => redis::probe(t).await,
            ProbeKind::Neo4j => bolt::probe(t).await,
            ProbeKind::Chroma => http::chroma(t).await,
            ProbeKind::Http => http::expect(t).await,
        }
    };
    match tokio::time::timeout(ATTEMPT_TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => Err(ProbeError::NotYet(format!(
            "no answer from {}:{} within {} s",
            t.host,
            t.port,
            ATTEMPT_TIMEOUT.as_secs()
        ))),
    }
}

/// The delay before attempt `n` (0-based): tens of milliseconds, doubling, capped.
pub fn backoff(n: u32) -> Duration {
    let ms = 20u64.saturating_mul(1 << n.min(4));
    Duration::from_millis(ms.min(250))
}

async fn connect(t: &Target) -> Result<TcpStream, ProbeError> {
    let s = TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|e| {
            let what = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => e.to_string(),
            };
            ProbeError::NotYet(format!("{}:{}: {what}", t.host, t.port))
        })?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

fn io_not_yet(e: std::io::Error) -> ProbeError {
    let what = match e.kind() {
        std::io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
        std::io::ErrorKind::ConnectionReset => "the server reset the connection".to_string(),
        _ => e.to_string(),
    };
    ProbeError::NotYet(what)
}

async fn read_exact<R: AsyncRead + Unpin>(r: &mut R, n: usize) -> Result<Vec<u8>, ProbeError> {
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf).await.map_err(io_not_yet)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_small_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(20));
        assert_eq!(backoff(2), Duration::from_millis(80));
        assert_eq!(backoff(10), Duration::from_millis(250));
    }

    #[test]
    fn targets_take_credentials_from_the_environment() {
        let p = crate::profile::load(&crate::profile::Choice::Named("kailash".into())).unwrap();
        let pg = target(&p.profile.services["postgres"]).unwrap();
        assert_eq!(
            (pg.port, pg.user.as_deref(), pg.database.as_deref()),
            (5432, Some("test_user"), Some("horme_test_db"))
        );
        let neo = target(&p.profile.services["neo4j"]).unwrap();
        assert_eq!(
            (neo.port, neo.password.as_deref()),
            (7687, Some("testpassword"))
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_not_fatal() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let t = Target {
            kind: ProbeKind::Tcp,
            host: "127.0.0.1".into(),
            port,
            user: None,
            password: None,
            database: None,
            path: None,
            status: None,
        };
        let e = attempt(&t).await.unwrap_err();
        assert!(!e.is_fatal());
        assert!(e.to_string().contains("connection refused"), "{e}");
    }
}
