//! What a failed reach means, in the words a person acts on: the wire error (or the answer) of
//! one request becomes a `Fault`, classified from recorded facts only, so every case is a unit
//! test.

use serde::Serialize;

use super::proxy::masked;
use super::wire::{Response, WireError};
use super::x509;

/// Why a registry or the package index could not be used.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fault {
    /// The name does not resolve.
    Dns {
        host: String,
        error: String,
    },
    /// Nothing listens there.
    Refused {
        addr: String,
    },
    /// No answer in time.
    Timeout {
        addr: String,
        during: String,
    },
    /// The proxy wants credentials (407), or refused the ones it was given.
    ProxyAuth {
        proxy: String,
        credentials: bool,
    },
    /// The proxy answered `CONNECT` with another error.
    ProxyRefused {
        proxy: String,
        status: u16,
        reason: String,
    },
    /// The certificate presented was issued by an authority this client does not trust.
    UnknownAuthority {
        host: String,
        /// The issuer of the certificate actually presented (the top of its chain).
        issuer: String,
        subject: String,
        /// Whether the machine's trust store holds that issuer.
        in_os_store: bool,
        /// Whether a file the user named (`network.ca_file`) holds it.
        in_ca_file: bool,
        /// The proxy the connection went through (TLS inspection happens there).
        via: Option<String>,
    },
    /// The certificate is not valid yet: this machine's clock is behind.
    NotYetValid {
        host: String,
        not_before: String,
        /// How far this clock is behind the certificate's start, in seconds.
        behind_secs: i64,
    },
    Expired {
        host: String,
        detail: String,
    },
    /// The certificate is for another name.
    WrongName {
        host: String,
        detail: String,
    },
    /// 429, with the limit headers the registry sent.
    RateLimited {
        limit: Option<String>,
        remaining: Option<String>,
        retry_after: Option<String>,
    },
    /// The registry or index wants credentials for this.
    AuthRequired {
        what: String,
        status: u16,
    },
    /// A plain HTTP server where TLS was expected.
    NotTls {
        addr: String,
    },
    Other {
        error: String,
    },
}

/// Facts about trust a classification needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustFacts<'a> {
    /// Subjects of the certificates in the OS store.
    pub os_subjects: &'a [String],
    /// Subjects of the certificates in the user's named CA file.
    pub file_subjects: &'a [String],
    /// Now, in Unix seconds.
    pub now: i64,
}

/// A wire error as a fault.
pub fn from_wire(e: &WireError, host: &str, proxy: Option<&str>, t: TrustFacts) -> Fault {
    match e {
        WireError::Dns { host, error } => Fault::Dns {
            host: host.clone(),
            error: error.clone(),
        },
        WireError::Refused { addr } => Fault::Refused { addr: addr.clone() },
        WireError::Timeout { addr, during } => Fault::Timeout {
            addr: addr.clone(),
            during: during.to_string(),
        },
        WireError::ProxyStatus { status: 407, .. } => Fault::ProxyAuth {
            proxy: proxy.map(masked).unwrap_or_default(),
            credentials: proxy.is_some_and(|p| p.split("://").nth(1).is_some_and(has_userinfo)),
        },
        WireError::ProxyStatus { status, reason } => Fault::ProxyRefused {
            proxy: proxy.map(masked).unwrap_or_default(),
            status: *status,
            reason: reason.clone(),
        },
        WireError::Tls { error, chain } => tls(error, chain, host, proxy, t),
        WireError::NotTls(addr) => Fault::NotTls { addr: addr.clone() },
        WireError::Io(m) => Fault::Other { error: m.clone() },
    }
}

fn has_userinfo(rest: &str) -> bool {
    rest[..rest.find('/').unwrap_or(rest.len())].contains('@')
}

fn tls(
    e: &rustls::CertificateError,
    chain: &[Vec<u8>],
    host: &str,
    proxy: Option<&str>,
    t: TrustFacts,
) -> Fault {
    use rustls::CertificateError as C;
    let infos: Vec<x509::CertInfo> = chain.iter().filter_map(|c| x509::parse(c)).collect();
    let leaf = infos.first();
    let host = host.to_string();
    match e {
        C::NotValidYet | C::NotValidYetContext { .. } => {
            let nb = match e {
                C::NotValidYetContext { not_before, .. } => {
                    i64::try_from(not_before.as_secs()).unwrap_or(i64::MAX)
                }
                _ => infos.iter().map(|c| c.not_before).max().unwrap_or(t.now),
            };
            Fault::NotYetValid {
                host,
                not_before: x509::utc(nb),
                behind_secs: nb - t.now,
            }
        }
        C::Expired | C::ExpiredContext { .. } => Fault::Expired {
            host,
            detail: leaf
                .map(|c| format!("it expired {}", x509::utc(c.not_after)))
                .unwrap_or_default(),
        },
        C::NotValidForName | C::NotValidForNameContext { .. } => Fault::WrongName {
            host,
            detail: leaf
                .map(|c| format!("it names {}", c.subject))
                .unwrap_or_default(),
        },
        C::UnknownIssuer | C::BadSignature | C::UnhandledCriticalExtension => {
            // The authority is the issuer of the last certificate presented.
            let top = infos.last();
            let issuer = top.map(|c| c.issuer.clone()).unwrap_or_default();
            Fault::UnknownAuthority {
                host,
                in_os_store: !issuer.is_empty() && t.os_subjects.contains(&issuer),
                in_ca_file: !issuer.is_empty() && t.file_subjects.contains(&issuer),
                issuer,
                subject: leaf.map(|c| c.subject.clone()).unwrap_or_default(),
                via: proxy.map(masked),
            }
        }
        other => Fault::Other {
            error: format!("the certificate of {host} was refused: {other:?}"),
        },
    }
}

/// An answer that is itself a fault (429, 401/403 after the token flow), or `None`.
pub fn from_status(r: &Response, what: &str) -> Option<Fault> {
    match r.status {
        429 => Some(Fault::RateLimited {
            limit: r.header("ratelimit-limit").map(String::from),
            remaining: r.header("ratelimit-remaining").map(String::from),
            retry_after: r.header("retry-after").map(String::from),
        }),
        401 | 403 => Some(Fault::AuthRequired {
            what: what.to_string(),
            status: r.status,
        }),
        407 => Some(Fault::ProxyAuth {
            proxy: String::new(),
            credentials: false,
        }),
        _ => None,
    }
}

impl Fault {
    /// The short class name (`dns`, `tls-unknown-authority`, ...), as tests and JSON name it.
    pub fn class(&self) -> &'static str {
        match self {
            Fault::Dns { .. } => "dns",
            Fault::Refused { .. } => "refused",
            Fault::Timeout { .. } => "timeout",
            Fault::ProxyAuth { .. } => "proxy-auth",
            Fault::ProxyRefused { .. } => "proxy-refused",
            Fault::UnknownAuthority { .. } => "tls-unknown-authority",
            Fault::NotYetValid { .. } => "clock-skew",
            Fault::Expired { .. } => "tls-expired",
            Fault::WrongName { .. } => "tls-wrong-name",
            Fault::RateLimited { .. } => "rate-limited",
            Fault::AuthRequired { .. } => "auth-required",
            Fault::NotTls { .. } => "not-tls",
            Fault::Other { .. } => "other",
        }
    }

    /// One line saying what is wrong.
    pub fn describe(&self) -> String {
        match self {
            Fault::Dns { host, error } => format!("DNS: {host} does not resolve ({error})"),
            Fault::Refused { addr } => format!("connection refused by {addr}"),
            Fault::Timeout { addr, during } => format!("timed out {during} to {addr}"),
            Fault::ProxyAuth { proxy, credentials } => format!(
                "the proxy {proxy} wants authentication (407 Proxy Authentication Required){}",
                if *credentials {
                    ": it refused the credentials in the proxy URL"
                } else {
                    ": the proxy URL carries no credentials"
                }
            ),
            Fault::ProxyRefused {
                proxy,
                status,
                reason,
            } => format!("the proxy {proxy} answered {status} {reason}"),
            Fault::UnknownAuthority {
                host,
                issuer,
                in_os_store,
                in_ca_file,
                via,
                ..
            } => {
                let via = via
                    .as_ref()
                    .map(|p| format!(" through the proxy {p} (TLS inspection)"))
                    .unwrap_or_default();
                let store = if *in_os_store {
                    "the OS trust store has it"
                } else {
                    "the OS trust store does not have it"
                };
                let file = if *in_ca_file {
                    "; the CA file you named has it"
                } else {
                    ""
                };
                format!(
                    "TLS: unknown authority for {host}{via}: the certificate presented is issued by \"{issuer}\"; {store}{file}"
                )
            }
            Fault::NotYetValid {
                host,
                not_before,
                behind_secs,
            } => format!(
                "TLS: the certificate of {host} is not valid until {not_before}: this machine's clock is {} behind",
                span(*behind_secs)
            ),
            Fault::Expired { host, detail } => {
                format!("TLS: the certificate of {host} has expired ({detail})")
            }
            Fault::WrongName { host, detail } => {
                format!("TLS: the certificate presented is not for {host} ({detail})")
            }
            Fault::RateLimited {
                limit,
                remaining,
                retry_after,
            } => {
                let mut s = "rate-limited (429 Too Many Requests)".to_string();
                for (k, v) in [
                    ("ratelimit-limit", limit),
                    ("ratelimit-remaining", remaining),
                    ("retry-after", retry_after),
                ] {
                    if let Some(v) = v {
                        s.push_str(&format!("; {k}: {v}"));
                    }
                }
                s
            }
            Fault::AuthRequired { what, status } => {
                format!("authentication required for {what} ({status})")
            }
            Fault::NotTls { addr } => format!("{addr} does not speak TLS (plain HTTP?)"),
            Fault::Other { error } => error.clone(),
        }
    }
}

/// `3 h 12 min`, `45 s`.
pub fn span(secs: i64) -> String {
    let s = secs.abs();
    if s >= 86400 {
        format!("{} d {} h", s / 86400, s % 86400 / 3600)
    } else if s >= 3600 {
        format!("{} h {} min", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_answers_become_proxy_faults_without_the_password() {
        let e = WireError::ProxyStatus {
            status: 407,
            reason: "Proxy Authentication Required".into(),
        };
        let f = from_wire(
            &e,
            "r",
            Some("http://bob:hunter22@proxy:3128"),
            TrustFacts::default(),
        );
        assert_eq!(f.class(), "proxy-auth");
        let text = f.describe();
        assert!(!text.contains("hunter22"), "{text}");
        assert!(text.contains("refused the credentials"), "{text}");
        let f = from_wire(&e, "r", Some("http://proxy:3128"), TrustFacts::default());
        assert!(f.describe().contains("no credentials"));
    }

    #[test]
    fn a_clock_behind_is_said_with_its_offset() {
        let e = WireError::Tls {
            error: rustls::CertificateError::NotValidYetContext {
                time: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(1_000_000),
                ),
                not_before: rustls::pki_types::UnixTime::since_unix_epoch(
                    std::time::Duration::from_secs(1_000_000 + 2 * 86400 + 3600),
                ),
            },
            chain: Vec::new(),
        };
        let t = TrustFacts {
            now: 1_000_000,
            ..TrustFacts::default()
        };
        let f = from_wire(&e, "registry.onramp.test", None, t);
        assert_eq!(f.class(), "clock-skew");
        assert!(f.describe().contains("2 d 1 h behind"), "{}", f.describe());
    }

    #[test]
    fn a_429_keeps_the_limit_headers() {
        let r = Response {
            status: 429,
            headers: vec![
                ("RateLimit-Limit".into(), "100;w=21600".into()),
                ("RateLimit-Remaining".into(), "0;w=21600".into()),
            ],
            body: Vec::new(),
        };
        let f = from_status(&r, "docker.io").unwrap();
        assert_eq!(f.class(), "rate-limited");
        assert!(f.describe().contains("ratelimit-remaining: 0;w=21600"));
        let ok = Response {
            status: 200,
            ..Response::default()
        };
        assert_eq!(from_status(&ok, "x"), None);
    }

    #[test]
    fn network_errors_keep_their_class() {
        let t = TrustFacts::default();
        let dns = WireError::Dns {
            host: "registry.invalid".into(),
            error: "failed to lookup".into(),
        };
        assert_eq!(from_wire(&dns, "h", None, t).class(), "dns");
        let r = WireError::Refused {
            addr: "127.0.0.1:9".into(),
        };
        assert_eq!(from_wire(&r, "h", None, t).class(), "refused");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(3 * 3600 + 120), "3 h 2 min");
    }
}
