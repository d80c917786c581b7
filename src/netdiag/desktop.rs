//! The roots a desktop engine will trust, asked live: the macOS System keychain (which Docker
//! Desktop and Rancher Desktop copy into their VM at start), the Windows `LocalMachine\Root`
//! store (the same on Windows), and colima's VM store (`colima ssh`). Each answer is PEM, read
//! with the same parser as the Linux stores; a question that fails or times out answers nothing.

use std::time::Duration;

use super::Roots;
use crate::host::{Cmd, Host};
use crate::platform::Kind;

const ASK: Duration = Duration::from_secs(10);

/// PowerShell that prints every root of `LocalMachine\Root` as PEM.
const WINDOWS_ROOTS: &str = "Get-ChildItem Cert:\\LocalMachine\\Root | ForEach-Object { '-----BEGIN CERTIFICATE-----'; [Convert]::ToBase64String($_.RawData, 'InsertLineBreaks'); '-----END CERTIFICATE-----' }";

/// Subjects of the roots in the host's own store as the desktop engines read it (`None`: not
/// asked here, or no answer).
pub async fn host_roots(host: &Host, kind: Kind) -> Option<Vec<String>> {
    let cmd = match kind {
        Kind::Macos => Cmd::new("security", ASK).args([
            "find-certificate",
            "-a",
            "-p",
            "/Library/Keychains/System.keychain",
        ]),
        Kind::Windows => Cmd::new("powershell.exe", ASK).args([
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            WINDOWS_ROOTS,
        ]),
        _ => return None,
    };
    pem_answer(host, &cmd).await
}

/// Subjects of the roots in colima's VM store.
pub async fn colima_roots(host: &Host, argv: &[String]) -> Option<Vec<String>> {
    let (program, args) = argv.split_first()?;
    pem_answer(host, &Cmd::new(program, ASK).args(args)).await
}

async fn pem_answer(host: &Host, cmd: &Cmd) -> Option<Vec<String>> {
    let out = host.run(cmd).await.ok()?;
    (out.code == Some(0)).then(|| Roots::from_pem(None, out.stdout.as_bytes()).subjects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_question_prints_pem_that_the_parser_reads() {
        // What the PowerShell above prints for one root, CRLF and 76-column lines as
        // [Convert]::ToBase64String(..., 'InsertLineBreaks') writes them.
        let der = "MIIB5DCCAYmgAwIBAgIUCtXP4LCcGsYJJSD24kc24j4DdqMwCgYIKoZIzj0EAwIwPjEVMBMGA1UECgwMRXhhbXBsZSBDb3JwMSUwIwYDVQQDDBxFeGFtcGxlIENvcnAgSW5zcGVjdGlvbiBSb290MCAXDTI2MTEzMDE1Mzc1N1oYDzIxMjYxMTA2MTUzNzU3WjA+MRUwEwYDVQQKDAxFeGFtcGxlIENvcnAxJTAjBgNVBAMMHEV4YW1wbGUgQ29ycCBJbnNwZWN0aW9uIFJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR2By/Rg15DOP6mbpx9qVSFaJaFPMMQ6j+a2rgvt1xDM9yMmRol31squTxnuSrDsoM4UMqhi2Qj7lcWPNkkuVmno2MwYTAdBgNVHQ4EFgQUKpxqkyRNa9zmDr4KEkltpBPYEzwwHwYDVR0jBBgwFoAUKpxqkyRNa9zmDr4KEkltpBPYEzwwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMCAQYwCgYIKoZIzj0EAwIDSQAwRgIhAPT+9BDa4oCz9rpnTSOiA2zDSfMo/2rLypAPT+D6ahbWAiEAt5jjK/cQwRhc4VilwRQLKI8exixjvdtkATstKpP1PgE=";
        let lines: Vec<&str> = der
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let out = format!(
            "-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----\r\n",
            lines.join("\r\n")
        );
        let roots = Roots::from_pem(None, out.as_bytes());
        assert_eq!(
            roots.subjects,
            ["CN=Example Corp Inspection Root, O=Example Corp"]
        );
    }
}
