//! What the network steps share, for the engine on this machine (`net`) and in a VM or on
//! another OS (`net_desktop`): what the user wants of the network, the company root, where the
//! undo script lives, and how a system file is written and a root recognised.

use super::{Action, Facts};

/// What the profile and the user want of the network.
#[derive(Debug, Clone, Default)]
pub struct NetWants {
    /// The proxy every client should use.
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
    /// The company's root: where the user keeps it, its PEM text and its subject.
    pub ca: Option<Ca>,
    /// Registries the profile's images come from (Docker Hub excluded: the OS store covers it).
    pub registries: Vec<String>,
    /// Registry mirrors for Docker Hub.
    pub mirrors: Vec<String>,
    /// The project's Python side (its CA bundle and venv), when a company root is named.
    pub python: Option<crate::netdiag::pip::PyProject>,
}

#[derive(Debug, Clone, Default)]
pub struct Ca {
    pub path: String,
    pub pem: String,
    pub subject: String,
}

impl Ca {
    /// The company root from the file the user named: its certificates only (a private key
    /// kept in the same file never reaches a trust store), and the first one's subject. `None`
    /// when the file holds no certificate.
    pub fn from_file(path: String, bytes: &[u8]) -> Option<Ca> {
        let pem = crate::netdiag::bundle::certs_pem(bytes);
        let subject = crate::netdiag::Roots::from_pem(None, pem.as_bytes())
            .subjects
            .first()?
            .clone();
        Some(Ca { path, pem, subject })
    }
}

/// The file the company root is installed as, in every store.
pub const CA_NAME: &str = "onramp-company-root.crt";
/// The undo script, relative to the project.
pub const UNDO: &str = ".onramp/net/undo.sh";

/// Write a system file: as root, through `sudo -n` unless onramp is root.
pub(super) fn write_file(f: &Facts, path: &str, content: String) -> Action {
    Action::WriteFile {
        path: path.into(),
        content,
        sudo: !(f.is_root() || f.uid.is_none()),
    }
}

/// A line of the certificate's base64 that no other certificate shares (its last full one).
pub(super) fn fingerprint_line(pem: &str) -> String {
    let body: Vec<&str> = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    body.iter()
        .rev()
        .find(|l| l.len() >= 60)
        .or(body.last())
        .map(|l| (*l).to_string())
        .unwrap_or_default()
}

/// Why an engine's proxy is to change: `WHO's proxy is ENGINE, yours is WANTED` (passwords
/// masked).
pub(super) fn proxy_why(who: &str, engine: Option<&str>, wanted: Option<&str>) -> String {
    format!(
        "{who} proxy is {}, yours is {}",
        engine
            .map(crate::secrets::mask_text)
            .unwrap_or_else(|| "none".into()),
        wanted.map(crate::secrets::mask_text).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = crate::netdiag::x509::TEST_ROOT;
    const KEY: &str = "-----BEGIN PRIVATE KEY-----
bm90IGEgcmVhbCBrZXk6IHRoZSBzaGFwZSBvZiBvbmUgYmVzaWRlIHRoZSByb290Lg==
-----END PRIVATE KEY-----
";

    /// A root exported with its key in one file: only the certificate is installed anywhere,
    /// and the grep line that recognises it in a store is the certificate's.
    #[test]
    fn a_private_key_beside_the_root_is_never_installed() {
        for text in [
            format!("{KEY}{ROOT}"),
            format!("{ROOT}{KEY}"),
            format!("junk\n{ROOT}trailing\n{KEY}"),
        ] {
            let ca = Ca::from_file("root.pem".into(), text.as_bytes())
                .unwrap_or_else(|| panic!("no certificate in {text}"));
            assert!(!ca.pem.contains("PRIVATE KEY"), "{}", ca.pem);
            assert!(!ca.pem.contains(KEY.lines().nth(1).unwrap()), "{}", ca.pem);
            assert_eq!(ca.pem.matches("BEGIN CERTIFICATE").count(), 1);
            assert!(
                ca.subject.contains("Example Corp Inspection Root"),
                "{}",
                ca.subject
            );
            let line = fingerprint_line(&ca.pem);
            assert!(ROOT.replace('\n', "").contains(&line), "{line}");
        }
        assert!(Ca::from_file("key.pem".into(), KEY.as_bytes()).is_none());
        let two = Ca::from_file("two.pem".into(), format!("{ROOT}{ROOT}").as_bytes()).unwrap();
        assert_eq!(two.pem.matches("BEGIN CERTIFICATE").count(), 2);
    }
}
