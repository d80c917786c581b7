//! The combined CA bundle for clients that replace their roots instead of adding to them (pip's
//! `cert`, `PIP_CERT`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, a container's bundle): the OS
//! bundle plus the company root named by `[network] ca_file`, written by onramp to
//! `.onramp/net/ca-bundle.pem`. It is rewritten whenever either input changes, and a file there
//! that onramp did not write is never replaced. Only certificates are copied (a private key in
//! the named file never reaches the bundle). Beside it, the same certificates as a Java trust
//! store (`.onramp/net/ca-truststore.jks`, `jks`) for JVMs, written and refused by the same rules.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::jks::{self, Entry};
use super::{OS_STORES, x509};
use crate::errors::{Error, Result};
use crate::fsx::Root;
use crate::host::Host;

/// The bundle, relative to the project directory.
pub const BUNDLE: &str = ".onramp/net/ca-bundle.pem";

/// The trust store, relative to the project directory.
pub const STORE: &str = ".onramp/net/ca-truststore.jks";

/// How the trust store's entries are named: a store whose every alias starts so is onramp's.
const ALIAS_PREFIX: &str = "onramp-";

/// The first line of every bundle onramp writes: how a file of onramp's is told from another.
const MARK: &str = "# Written by onramp: the OS trust store plus the company root (`[network] ca_file`). Rewritten by onramp when either changes; do not edit.";

/// The bundle is world-readable: it holds only public certificates, and a container's non-root
/// user must be able to read it where it is mounted.
const MODE: u32 = 0o644;

/// One input: where it was read and its certificates (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub certs: Vec<Vec<u8>>,
}

/// The bundle as it is on disk after `ensure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Its absolute path (what `PIP_CERT`, `SSL_CERT_FILE` or a mount name).
    pub path: PathBuf,
    /// The Java trust store beside it, the same certificates.
    pub store: PathBuf,
    /// The OS bundle it was made from.
    pub os_source: String,
    /// Certificates in it.
    pub certs: usize,
    /// Whether this call wrote it or the trust store (missing or out of date).
    pub written: bool,
}

/// The bundle's absolute path for a project.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(BUNDLE)
}

/// The distribution's own bundle file for a family (`debian`, `fedora`, ...), when known.
pub fn family_bundle(family: Option<&str>) -> Option<&'static str> {
    match family? {
        "debian" | "alpine" | "arch" => Some("/etc/ssl/certs/ca-certificates.crt"),
        "fedora" => Some("/etc/pki/tls/certs/ca-bundle.crt"),
        "opensuse" => Some("/etc/ssl/ca-bundle.pem"),
        _ => None,
    }
}

/// Where the OS bundle is looked for: the family's own file first, then the files Go knows.
pub fn os_candidates(family: Option<&str>) -> Vec<&'static str> {
    let first = family_bundle(family);
    first
        .into_iter()
        .chain(OS_STORES.iter().copied().filter(|p| Some(*p) != first))
        .collect()
}

/// The OS bundle through `host` (so `ONRAMP_SYSROOT` applies): the first candidate that holds
/// certificates.
pub fn os_source(host: &Host, family: Option<&str>) -> Option<Source> {
    os_candidates(family).into_iter().find_map(|p| {
        let certs = x509::pem_certs(host.sys_read(p)?.as_bytes());
        (!certs.is_empty()).then(|| Source {
            path: p.to_string(),
            certs,
        })
    })
}

/// The bundle's text: the mark, the OS bundle's certificates, then every company certificate
/// the OS bundle does not already hold. Pure.
pub fn combine(os: &Source, company: &Source) -> String {
    let mut out = format!("{MARK}\n# OS roots from {}\n", one_line(&os.path));
    for der in &os.certs {
        out.push_str(&pem(der));
    }
    out.push_str(&format!(
        "# company root from {}\n",
        one_line(&company.path)
    ));
    for der in company_only(os, company) {
        out.push_str(&pem(der));
    }
    out
}

/// The trust store's entries: the same certificates as `combine`'s bundle, in its order, named
/// `onramp-os-NNNN` and `onramp-company-NNNN`. Pure.
pub fn store_entries(os: &Source, company: &Source) -> Vec<Entry> {
    let name = |kind: &str, i: usize| format!("{ALIAS_PREFIX}{kind}-{:04}", i + 1);
    let os_entries = os.certs.iter().enumerate().map(|(i, der)| Entry {
        alias: name("os", i),
        der: der.clone(),
    });
    let company_entries = company_only(os, company)
        .into_iter()
        .enumerate()
        .map(|(i, der)| Entry {
            alias: name("company", i),
            der: der.clone(),
        });
    os_entries.chain(company_entries).collect()
}

/// The company's certificates the OS bundle does not already hold, each once.
fn company_only<'a>(os: &'a Source, company: &'a Source) -> Vec<&'a Vec<u8>> {
    let mut out: Vec<&Vec<u8>> = Vec::new();
    for der in &company.certs {
        if !os.certs.contains(der) && !out.contains(&der) {
            out.push(der);
        }
    }
    out
}

/// Whether `text` is a bundle onramp wrote.
pub fn is_ours(text: &[u8]) -> bool {
    text.starts_with(MARK.as_bytes())
}

/// Whether `bytes` is a trust store onramp wrote: a JKS of trusted certificates only, whose
/// digest checks out with onramp's password and whose every alias is onramp's.
pub fn is_our_store(bytes: &[u8]) -> bool {
    jks::read(bytes, jks::PASSWORD)
        .is_some_and(|entries| entries.iter().all(|e| e.alias.starts_with(ALIAS_PREFIX)))
}

/// What these inputs make: the bundle's text, the trust store's bytes, and the OS bundle they
/// come from.
pub struct Wanted {
    pub text: String,
    pub store: Vec<u8>,
    pub os_source: String,
}

/// The bundle and trust store these inputs make, or what is wrong with them.
pub fn wanted(host: &Host, ca_file: &Path, family: Option<&str>) -> Result<Wanted> {
    let company = company_source(ca_file)?;
    let os = os_source(host, family).ok_or_else(|| Error::NotReady {
        message: format!(
            "no OS certificate bundle found (looked at {})",
            os_candidates(family).join(", ")
        ),
        help: "install the distribution's CA certificates (Debian and Ubuntu: ca-certificates), then run `onramp doctor --fix` again".into(),
    })?;
    Ok(Wanted {
        text: combine(&os, &company),
        store: jks::write(&store_entries(&os, &company), jks::PASSWORD),
        os_source: os.path,
    })
}

/// Whether the project's bundle and trust store are there, onramp's, and what these inputs
/// make now.
pub fn is_current(host: &Host, dir: &Path, ca_file: &Path, family: Option<&str>) -> bool {
    let Ok(w) = wanted(host, ca_file, family) else {
        return false;
    };
    let root = Root::new(dir);
    matches!(root.read(BUNDLE), Ok(Some(b)) if b == w.text.as_bytes())
        && matches!(root.read(STORE), Ok(Some(b)) if b == w.store)
}

/// Make `.onramp/net/ca-bundle.pem` and `.onramp/net/ca-truststore.jks` what the OS bundle and
/// `ca_file` make now: each written when it is missing or out of date, left alone when current;
/// refused (both left as they are) when a file there is not one onramp wrote.
pub fn ensure(host: &Host, dir: &Path, ca_file: &Path, family: Option<&str>) -> Result<Bundle> {
    let w = wanted(host, ca_file, family)?;
    let root = Root::new(dir);
    let current = root.read(BUNDLE)?;
    if let Some(b) = &current
        && !is_ours(b)
    {
        return Err(not_ours(dir, BUNDLE, "a bundle"));
    }
    let current_store = root.read(STORE)?;
    if let Some(b) = &current_store
        && !is_our_store(b)
    {
        return Err(not_ours(dir, STORE, "a trust store"));
    }
    let bundle_stale = current.as_deref() != Some(w.text.as_bytes());
    if bundle_stale {
        root.write(BUNDLE, w.text.as_bytes(), MODE)?;
    }
    let store_stale = current_store.as_deref() != Some(&w.store[..]);
    if store_stale {
        root.write(STORE, &w.store, MODE)?;
    }
    Ok(Bundle {
        path: path(dir),
        store: dir.join(STORE),
        os_source: w.os_source,
        certs: x509::pem_certs(w.text.as_bytes()).len(),
        written: bundle_stale || store_stale,
    })
}

/// The refusal to replace a file at `rel` that onramp did not write.
pub fn not_ours(dir: &Path, rel: &str, what: &str) -> Error {
    Error::NotReady {
        message: format!("{} is not {what} onramp wrote", dir.join(rel).display()),
        help: format!(
            "onramp never replaces a file it did not write: move it away (`mv {rel} {rel}.mine`), then run `onramp doctor --fix` again"
        ),
    }
}

/// The certificates of the file the user named; a file without one is bad input.
fn company_source(ca_file: &Path) -> Result<Source> {
    let bytes = crate::fsx::read_regular(ca_file, crate::fsx::FILE_CAP)?;
    let certs = x509::pem_certs(&bytes);
    if certs.is_empty() {
        return Err(Error::NotReady {
            message: format!(
                "{} holds no certificate (PEM `-----BEGIN CERTIFICATE-----`, or DER)",
                ca_file.display()
            ),
            help: "export the company root as PEM (Base-64 encoded X.509) and name that file in onramp.toml (`[network] ca_file`)".into(),
        });
    }
    Ok(Source {
        path: ca_file.display().to_string(),
        certs,
    })
}

/// Only the certificates of a PEM file, re-encoded: what is installed into a trust store (a
/// private key or anything else beside them in the file is left out).
pub fn certs_pem(text: &[u8]) -> String {
    x509::pem_certs(text).iter().map(|d| pem(d)).collect()
}

/// One certificate as PEM, 64 columns.
fn pem(der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// A path as a comment line: no line break can end the comment early.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = crate::netdiag::x509::TEST_ROOT;

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n";

    /// A machine root: `sys/` (what `ONRAMP_SYSROOT` points at) and the project `p/`.
    struct Machine {
        _tmp: tempfile::TempDir,
        sys: PathBuf,
        dir: PathBuf,
    }

    #[allow(clippy::disallowed_methods)]
    fn machine(os_bundle: Option<&str>) -> Machine {
        let tmp = tempfile::tempdir().unwrap();
        let sys = tmp.path().join("sys");
        let dir = tmp.path().join("p");
        std::fs::create_dir_all(sys.join("etc/ssl/certs")).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(text) = os_bundle {
            std::fs::write(sys.join("etc/ssl/certs/ca-certificates.crt"), text).unwrap();
        }
        Machine {
            _tmp: tmp,
            sys,
            dir,
        }
    }

    /// A second, different certificate: the root's DER with one signature byte changed is
    /// still parsed as a certificate by `pem_certs`, and differs.
    fn other_cert() -> String {
        let mut der = x509::pem_certs(ROOT.as_bytes()).remove(0);
        let last = der.len() - 1;
        der[last] ^= 1;
        pem(&der)
    }

    #[test]
    fn the_bundle_is_the_os_roots_then_the_company_root_once() {
        let os = Source {
            path: "/etc/ssl/certs/ca-certificates.crt".into(),
            certs: x509::pem_certs(other_cert().as_bytes()),
        };
        let company = Source {
            path: "/p/corp.pem".into(),
            certs: x509::pem_certs(format!("{ROOT}{ROOT}").as_bytes()),
        };
        let text = combine(&os, &company);
        assert!(is_ours(text.as_bytes()));
        let certs = x509::pem_certs(text.as_bytes());
        assert_eq!(certs.len(), 2, "{text}");
        assert_eq!(certs[0], os.certs[0]);
        assert_eq!(certs[1], company.certs[0]);
        // Already in the OS store: not added twice.
        let both = Source {
            path: "/p/corp.pem".into(),
            certs: os.certs.clone(),
        };
        assert_eq!(x509::pem_certs(combine(&os, &both).as_bytes()).len(), 1);
    }

    #[test]
    fn the_family_bundle_is_looked_at_first() {
        assert_eq!(
            os_candidates(Some("fedora"))[0],
            "/etc/pki/tls/certs/ca-bundle.crt"
        );
        assert_eq!(os_candidates(None)[0], "/etc/ssl/certs/ca-certificates.crt");
        let all = os_candidates(Some("opensuse"));
        assert_eq!(all.len(), OS_STORES.len(), "no path twice: {all:?}");
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn ensure_writes_keeps_and_rewrites_when_an_input_changes() {
        let m = machine(Some(&other_cert()));
        let host = Host::with(&m.sys, &[], crate::host::Os::current());
        let ca = m.dir.join("corp.pem");
        std::fs::write(&ca, format!("{KEY}{ROOT}")).unwrap();
        let b = ensure(&host, &m.dir, &ca, Some("debian")).unwrap();
        assert!(b.written);
        assert_eq!(b.certs, 2);
        assert_eq!(b.os_source, "/etc/ssl/certs/ca-certificates.crt");
        let text = std::fs::read_to_string(path(&m.dir)).unwrap();
        assert!(
            !text.contains("PRIVATE KEY"),
            "a key never reaches the bundle"
        );
        let store = jks::read(&std::fs::read(&b.store).unwrap(), jks::PASSWORD).unwrap();
        let aliases: Vec<&str> = store.iter().map(|e| e.alias.as_str()).collect();
        assert_eq!(aliases, ["onramp-os-0001", "onramp-company-0001"]);
        let in_bundle = x509::pem_certs(text.as_bytes());
        assert_eq!(
            store.iter().map(|e| &e.der).collect::<Vec<_>>(),
            in_bundle.iter().collect::<Vec<_>>(),
            "the store holds the bundle's certificates"
        );
        assert!(is_current(&host, &m.dir, &ca, Some("debian")));
        assert!(!ensure(&host, &m.dir, &ca, Some("debian")).unwrap().written);
        // A store gone missing is written again, the bundle left as it is.
        std::fs::remove_file(&b.store).unwrap();
        assert!(!is_current(&host, &m.dir, &ca, Some("debian")));
        assert!(ensure(&host, &m.dir, &ca, Some("debian")).unwrap().written);
        assert!(is_our_store(&std::fs::read(&b.store).unwrap()));
        // The OS store changes: the bundle follows.
        std::fs::write(
            m.sys.join("etc/ssl/certs/ca-certificates.crt"),
            format!("{}{ROOT}", other_cert()),
        )
        .unwrap();
        assert!(!is_current(&host, &m.dir, &ca, Some("debian")));
        let b = ensure(&host, &m.dir, &ca, Some("debian")).unwrap();
        assert!(b.written);
        assert_eq!(b.certs, 2, "the company root is in the OS store now");
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn a_file_onramp_did_not_write_is_never_replaced() {
        let m = machine(Some(&other_cert()));
        let host = Host::with(&m.sys, &[], crate::host::Os::current());
        let ca = m.dir.join("corp.pem");
        std::fs::write(&ca, ROOT).unwrap();
        std::fs::create_dir_all(m.dir.join(".onramp/net")).unwrap();
        std::fs::write(path(&m.dir), "mine\n").unwrap();
        let e = ensure(&host, &m.dir, &ca, None).unwrap_err();
        assert!(e.to_string().contains("not a bundle onramp wrote"), "{e}");
        assert_eq!(std::fs::read_to_string(path(&m.dir)).unwrap(), "mine\n");
        assert!(!m.dir.join(STORE).exists(), "nothing written beside it");
    }

    /// A trust store of someone else's (another password, another alias, a key store) at the
    /// store's path is never replaced, and the bundle is not written either.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn a_trust_store_onramp_did_not_write_is_never_replaced() {
        let m = machine(Some(&other_cert()));
        let host = Host::with(&m.sys, &[], crate::host::Os::current());
        let ca = m.dir.join("corp.pem");
        std::fs::write(&ca, ROOT).unwrap();
        std::fs::create_dir_all(m.dir.join(".onramp/net")).unwrap();
        let der = x509::pem_certs(ROOT.as_bytes()).remove(0);
        let entry = |alias: &str| Entry {
            alias: alias.into(),
            der: der.clone(),
        };
        for theirs in [
            jks::write(&[entry("onramp-os-0001")], "secret"),
            jks::write(&[entry("corp-root")], jks::PASSWORD),
            b"not a key store".to_vec(),
        ] {
            std::fs::write(m.dir.join(STORE), &theirs).unwrap();
            let e = ensure(&host, &m.dir, &ca, None).unwrap_err();
            assert!(
                e.to_string().contains("not a trust store onramp wrote"),
                "{e}"
            );
            let Error::NotReady { help, .. } = &e else {
                panic!("{e:?}")
            };
            assert!(help.contains("mv .onramp/net/ca-truststore.jks"), "{help}");
            assert_eq!(std::fs::read(m.dir.join(STORE)).unwrap(), theirs);
            assert!(!path(&m.dir).exists());
        }
        assert!(is_our_store(&jks::write(
            &[entry("onramp-company-0001")],
            jks::PASSWORD
        )));
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn bad_inputs_say_what_and_where() {
        let m = machine(None);
        let host = Host::with(&m.sys, &[], crate::host::Os::current());
        let ca = m.dir.join("corp.pem");
        std::fs::write(&ca, KEY).unwrap();
        let e = ensure(&host, &m.dir, &ca, None).unwrap_err();
        assert!(e.to_string().contains("holds no certificate"), "{e}");
        std::fs::write(&ca, ROOT).unwrap();
        let e = ensure(&host, &m.dir, &ca, None).unwrap_err();
        assert!(e.to_string().contains("no OS certificate bundle"), "{e}");
        assert!(!path(&m.dir).exists());
    }
}
