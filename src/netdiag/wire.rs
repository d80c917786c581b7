//! One HTTP/1.1 request the way a client on this machine would make it: the name resolved, a
//! TCP connection (through the client's proxy with `CONNECT`, or an absolute URI for plain
//! HTTP), TLS checked against the client's roots, and the certificates actually presented kept
//! for the diagnosis. Blocking, with a timeout on every step; run off the async runtime.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// The most of a response that is read.
const BODY_CAP: usize = 256 * 1024;

/// A URL split into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    pub fn parse(s: &str) -> Option<Url> {
        let (scheme, rest) = s.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let default = if scheme == "https" { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse().ok()?),
            _ => (authority, default),
        };
        if host.is_empty() || !matches!(scheme.as_str(), "http" | "https") {
            return None;
        }
        Some(Url {
            scheme,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            path: path.to_string(),
        })
    }

    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority())
    }
}

/// One request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    /// The proxy URL to go through (userinfo becomes `Proxy-Authorization: Basic`).
    pub proxy: Option<String>,
    /// Trusted roots (DER). Empty: nothing is trusted.
    pub roots: Arc<Vec<Vec<u8>>>,
    /// Accept any certificate (what the engines do for an insecure registry over TLS).
    pub insecure: bool,
    pub timeout: Duration,
}

/// An answer.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What went wrong, in the terms the diagnosis sorts by.
#[derive(Debug, Clone, PartialEq)]
pub enum WireError {
    /// The name did not resolve (the host asked for: the target, or the proxy).
    Dns {
        host: String,
        error: String,
    },
    Refused {
        addr: String,
    },
    Timeout {
        addr: String,
        during: &'static str,
    },
    /// The proxy answered `CONNECT` (or the request) with this status.
    ProxyStatus {
        status: u16,
        reason: String,
    },
    /// The certificate presented was refused; `chain` is what was presented.
    Tls {
        error: CertificateError,
        chain: Vec<Vec<u8>>,
    },
    /// The server did not speak TLS (a plain HTTP server on a TLS port, say).
    NotTls(String),
    Io(String),
}

/// Send the request and read the answer.
pub fn exchange(req: &Request) -> Result<Response, WireError> {
    // Without a scheme a proxy is an http one, as curl, pip and Go read it.
    let proxy = req.proxy.as_deref().map(|p| match p.contains("://") {
        true => p.to_string(),
        false => format!("http://{p}"),
    });
    let via = proxy.as_deref().and_then(Url::parse);
    let (connect_to, via_proxy) = match &via {
        Some(p) => (p.clone(), true),
        None => (req.url.clone(), false),
    };
    let mut tcp = connect(&connect_to, req.timeout)?;
    let auth = proxy.as_deref().and_then(proxy_auth);
    if req.url.scheme == "https" {
        if via_proxy {
            tunnel(&mut tcp, &req.url, auth.as_deref())?;
        }
        let (mut tls, seen) = tls(tcp, req)?;
        let out = send(&mut tls, req, &req.url.path, None);
        out.map_err(|e| match e {
            WireError::Io(m) if seen.lock().is_ok_and(|c| !c.is_empty()) => WireError::Io(m),
            e => e,
        })
    } else {
        let target = if via_proxy {
            format!("{}{}", req.url.origin(), req.url.path)
        } else {
            req.url.path.clone()
        };
        let resp = send(&mut tcp, req, &target, auth.as_deref())?;
        if via_proxy && resp.status == 407 {
            return Err(WireError::ProxyStatus {
                status: 407,
                reason: "Proxy Authentication Required".into(),
            });
        }
        Ok(resp)
    }
}

fn connect(url: &Url, timeout: Duration) -> Result<TcpStream, WireError> {
    let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| WireError::Dns {
            host: url.host.clone(),
            error: e.to_string(),
        })?
        .collect();
    let mut last = WireError::Dns {
        host: url.host.clone(),
        error: "no address".into(),
    };
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(timeout));
                let _ = s.set_write_timeout(Some(timeout));
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = WireError::Refused {
                    addr: format!("{} ({a})", url.authority()),
                };
            }
            Err(e) if timed_out(&e) => {
                last = WireError::Timeout {
                    addr: format!("{} ({a})", url.authority()),
                    during: "connecting",
                };
            }
            Err(e) => last = WireError::Io(format!("{}: {e}", url.authority())),
        }
    }
    Err(last)
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn io(e: std::io::Error, what: &str, during: &'static str) -> WireError {
    if timed_out(&e) {
        WireError::Timeout {
            addr: what.to_string(),
            during,
        }
    } else {
        WireError::Io(format!("{what}: {e}"))
    }
}

/// `Basic` credentials from a proxy URL's userinfo (percent-decoded).
fn proxy_auth(proxy: &str) -> Option<String> {
    let rest = proxy.split_once("://")?.1;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let (info, _) = authority.rsplit_once('@')?;
    let decoded = percent_decode(info);
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(decoded)
    ))
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `CONNECT host:port` through the proxy; anything but 2xx is the proxy's refusal.
fn tunnel(tcp: &mut TcpStream, url: &Url, auth: Option<&str>) -> Result<(), WireError> {
    let mut head = format!("CONNECT {a} HTTP/1.1\r\nHost: {a}\r\n", a = url.authority());
    if let Some(a) = auth {
        head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes())
        .map_err(|e| io(e, "the proxy", "CONNECT"))?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") && buf.len() < 16 * 1024 {
        match tcp.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => buf.push(byte[0]),
            Err(e) => return Err(io(e, "the proxy", "CONNECT")),
        }
    }
    let (status, reason) = status_line(&buf).ok_or_else(|| {
        WireError::Io("the proxy closed the connection during CONNECT".to_string())
    })?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(WireError::ProxyStatus { status, reason })
    }
}

fn status_line(buf: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(buf);
    let first = text.lines().next()?;
    let mut parts = first.splitn(3, ' ');
    let _version = parts.next()?;
    let status = parts.next()?.parse().ok()?;
    Some((status, parts.next().unwrap_or("").trim().to_string()))
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;
type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

fn tls(tcp: TcpStream, req: &Request) -> Result<(Tls, Seen), WireError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen: Seen = Arc::default();
    let mut recorder = Recorder::new(&req.roots, provider.clone(), seen.clone());
    recorder.insecure = req.insecure;
    let verifier = Arc::new(recorder);
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WireError::Io(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(req.url.host.clone())
        .map_err(|e| WireError::Io(format!("{}: {e}", req.url.host)))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| WireError::Io(e.to_string()))?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            return Err(tls_error(e, &seen, &req.url));
        }
    }
    Ok((stream, seen))
}

fn tls_error(e: std::io::Error, seen: &Seen, url: &Url) -> WireError {
    let chain = seen.lock().map(|c| c.clone()).unwrap_or_default();
    if let Some(re) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match re {
            rustls::Error::InvalidCertificate(c) => WireError::Tls {
                error: c.clone(),
                chain,
            },
            rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
                WireError::NotTls(format!("{}: {re}", url.authority()))
            }
            other => WireError::Io(format!("TLS with {}: {other}", url.authority())),
        };
    }
    io(e, &url.authority(), "the TLS handshake")
}

/// Write the request, read the whole answer (`Connection: close`).
fn send<S: Read + Write>(
    s: &mut S,
    req: &Request,
    target: &str,
    proxy_auth: Option<&str>,
) -> Result<Response, WireError> {
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {}\r\nUser-Agent: onramp\r\nConnection: close\r\n",
        req.method,
        host_header(&req.url)
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(a) = proxy_auth {
        head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    let what = req.url.authority();
    s.write_all(head.as_bytes())
        .map_err(|e| io(e, &what, "sending the request"))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // A TLS peer that closes without close_notify still sent its whole answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(io(e, &what, "reading the answer")),
        }
        if raw.len() > BODY_CAP {
            break;
        }
        if req.method == "HEAD" && raw.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    parse_response(&raw).ok_or_else(|| WireError::Io(format!("{what}: no HTTP answer")))
}

fn host_header(url: &Url) -> String {
    let default = if url.scheme == "https" { 443 } else { 80 };
    if url.port == default {
        url.host.clone()
    } else {
        url.authority()
    }
}

/// Status, headers and (de-chunked) body of a raw HTTP/1.1 answer.
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let (status, _) = status_line(head.as_bytes())?;
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = &raw[split + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    Some(Response {
        status,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        },
        headers,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&b[..eol]);
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        b = &b[eol + 2..];
        if n == 0 || b.len() < n {
            out.extend_from_slice(&b[..n.min(b.len())]);
            break;
        }
        out.extend_from_slice(&b[..n]);
        b = b.get(n + 2..).unwrap_or_default();
    }
    out
}

/// rustls' own verification against the given roots, keeping the chain that was presented.
#[derive(Debug)]
struct Recorder {
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    seen: Seen,
    insecure: bool,
}

impl Recorder {
    fn new(roots: &[Vec<u8>], provider: Arc<rustls::crypto::CryptoProvider>, seen: Seen) -> Self {
        let mut store = rustls::RootCertStore::empty();
        for r in roots {
            let _ = store.add(CertificateDer::from(r.clone()));
        }
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(store),
            provider.clone(),
        )
        .build()
        .ok();
        Recorder {
            inner,
            provider,
            seen,
            insecure: false,
        }
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut s) = self.seen.lock() {
            *s = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.as_ref().to_vec())
                .collect();
        }
        if self.insecure {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.inner {
            Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_host_port_and_path() {
        let u = Url::parse("https://user:pw@registry.onramp.test:5443/v2/").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.path.as_str()),
            ("https", "registry.onramp.test", 5443, "/v2/")
        );
        assert_eq!(Url::parse("http://h").unwrap().port, 80);
        assert_eq!(Url::parse("https://[::1]:8443/x").unwrap().host, "::1");
        assert!(Url::parse("ftp://h/").is_none());
        assert!(Url::parse("https://:1/").is_none());
    }

    /// A proxy written without a scheme (`alice:pw@proxy:3128`, as curl, pip and Go take it) is
    /// an http proxy: the request goes through it (a real listener on 127.0.0.1 sees the
    /// `CONNECT` with the credentials), not around it while the finding says "through".
    #[test]
    fn a_proxy_without_a_scheme_is_gone_through() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let proxy = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 2048];
            let n = s.read(&mut buf).unwrap_or(0);
            let _ = s.write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n");
            String::from_utf8_lossy(&buf[..n]).to_string()
        });
        let req = Request {
            method: "GET",
            url: Url::parse("https://registry.onramp.invalid/v2/").unwrap(),
            headers: Vec::new(),
            proxy: Some(format!("alice:pw@127.0.0.1:{port}")),
            roots: Arc::new(Vec::new()),
            insecure: false,
            timeout: Duration::from_secs(5),
        };
        let r = exchange(&req);
        // Went around the proxy: wake the listener so the test ends and fails.
        let _ = TcpStream::connect(("127.0.0.1", port));
        let head = proxy.join().unwrap();
        assert!(
            head.starts_with("CONNECT registry.onramp.invalid:443 "),
            "{head:?}"
        );
        assert!(head.contains("Proxy-Authorization: Basic "), "{head:?}");
        assert!(
            matches!(r, Err(WireError::ProxyStatus { status: 407, .. })),
            "{r:?}"
        );
    }

    #[test]
    fn a_proxy_url_gives_basic_credentials_percent_decoded() {
        let a = proxy_auth("http://alice:p%40ss@proxy:3128").unwrap();
        let b64 = a.strip_prefix("Basic ").unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(raw, b"alice:p@ss");
        assert_eq!(proxy_auth("http://proxy:3128"), None);
    }

    #[test]
    fn answers_parse_with_headers_and_chunked_bodies() {
        let raw = b"HTTP/1.1 429 Too Many Requests\r\nRateLimit-Limit: 100;w=21600\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let r = parse_response(raw).unwrap();
        assert_eq!(r.status, 429);
        assert_eq!(r.header("ratelimit-limit"), Some("100;w=21600"));
        assert_eq!(r.body, b"hello world");
        assert!(parse_response(b"garbage").is_none());
    }
}
