//! Hostile values in the company-network settings, run through the real binary: a proxy
//! password must never be printed, however the proxy value is written.

use crate::common::{Run, onramp, run, skip_or_fail, write};
use crate::network::{check, doctor, make_ca, net_python};

/// Proxy values without a scheme (as curl and pip take them) or with a `/` or a space in the
/// password: doctor's human and `--json` output never shows the password.
#[test]
fn a_proxy_password_written_oddly_is_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "onramp.toml",
        "name = \"net\"\n[requirements]\ndocker = \"optional\"\n[sdk]\npackages = [\"kailash\"]\n",
    );
    for (proxy, pw) in [
        ("alice:NoScheme77@127.0.0.1:9", "NoScheme77"),
        ("http://alice:pa/ss99x@127.0.0.1:9", "pa/ss99x"),
        ("http://alice:Sp ace99@127.0.0.1:9", "Sp ace99"),
    ] {
        let env = [("HTTPS_PROXY", proxy), ("HTTP_PROXY", proxy)];
        let (doc, all) = doctor(tmp.path(), &env);
        let shown = check(&doc, "network:proxy")["detail"].to_string();
        assert!(shown.contains("alice:***@127.0.0.1:9"), "{shown}");
        assert!(
            !all.contains(pw),
            "{proxy}: the password was printed:\n{all}"
        );
    }
}

/// A proxy that takes a token as its user name, with no password (`http://TOKEN@proxy`, with or
/// without a scheme): the token is the secret, so neither doctor nor its plan shows it.
#[test]
fn a_proxy_token_given_as_the_user_name_is_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "onramp.toml",
        "name = \"net\"\n[requirements]\ndocker = \"optional\"\n[sdk]\npackages = [\"kailash\"]\n",
    );
    for proxy in [
        "http://Tok3nAsUser77@127.0.0.1:9",
        "Tok3nAsUser77@127.0.0.1:9",
    ] {
        let env = [("HTTPS_PROXY", proxy), ("HTTP_PROXY", proxy)];
        let (doc, all) = doctor(tmp.path(), &env);
        let shown = check(&doc, "network:proxy")["detail"].to_string();
        assert!(shown.contains("***@127.0.0.1:9"), "{shown}");
        let mut c = onramp(tmp.path());
        c.args(["doctor", "--fix", "--dry-run"])
            .env_remove("ONRAMP_NETWORK")
            .env("PIP_CONFIG_FILE", "/dev/null");
        for (k, v) in env {
            c.env(k, v);
        }
        let r = run(&mut c);
        let all = format!("{all}\n{}\n{}", r.stdout, r.stderr);
        assert!(
            !all.contains("Tok3nAsUser77"),
            "{proxy}: the token was printed:\n{all}"
        );
    }
}

/// A root exported with its private key in the same file: the plan (which shows the line it
/// looks for in each store) never shows the key, and the root is still planned for the stores.
#[test]
fn a_private_key_in_the_ca_file_never_reaches_the_plan() {
    let Some(py) = net_python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ca = make_ca(&py, tmp.path(), "corp", "Onramp Hostile Test Root");
    let cert = std::fs::read_to_string(ca.with_extension("pem")).unwrap();
    let key = std::fs::read_to_string(ca.with_extension("key")).unwrap();
    write(tmp.path(), "root.pem", &format!("{cert}{key}"));
    write(
        tmp.path(),
        "onramp.toml",
        "name = \"net\"\n[requirements]\ndocker = \"optional\"\n[services.redis]\nimage = \"registry.corp.test:5000/x/redis:7\"\n[sdk]\npackages = [\"kailash\"]\n[network]\nca_file = \"root.pem\"\n",
    );
    let mut c = onramp(tmp.path());
    c.args(["doctor", "--fix", "--dry-run"])
        .env_remove("ONRAMP_NETWORK")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env("PIP_CONFIG_FILE", "/dev/null");
    let r = run(&mut c);
    let all = format!("{}\n{}", r.stdout, r.stderr);
    assert!(all.contains("ca-os-store"), "{all}");
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !all.contains(line),
            "a line of the private key was printed:\n{all}"
        );
    }
    let probe = all
        .lines()
        .find_map(|l| l.split("grep -qF ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no store probe in the plan:\n{all}"));
    assert!(cert.contains(probe), "{probe} is not a line of the root");
}

/// A `[network] ca_file` that is missing, a directory or holds no certificate fails doctor with
/// the file named and the fix, instead of leaving the root out of the plan without a word; a
/// file holding a certificate raises nothing.
#[test]
fn a_ca_file_that_is_missing_a_folder_or_no_certificate_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("certs")).unwrap();
    write(tmp.path(), "notes.pem", "not a certificate\n");
    let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    let first = bundle
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap_or_default()
        .to_string();
    write(tmp.path(), "root.pem", &first);
    for (file, fails) in [
        ("missing.pem", true),
        ("certs", true),
        ("notes.pem", true),
        ("root.pem", first.is_empty()),
    ] {
        let (r, found) = ca_file_check(tmp.path(), file);
        match (fails, found) {
            (true, Some(c)) => {
                assert_eq!(c["status"], "fail", "{c}");
                assert!(c["detail"].to_string().contains("ca_file"), "{c}");
                assert!(c["remedy"].to_string().contains(file), "{c}");
                assert_ne!(r.code, 0, "{file}: doctor passed");
            }
            (false, None) => {}
            (_, c) => panic!("{file}: {c:?}\n{}", r.stdout),
        }
    }
}

/// A root saved with a UTF-8 byte-order mark (Notepad, PowerShell 5's `Out-File`) or exported as
/// DER (Windows' default `.cer`) is the root, as openssl reads it: `network:ca-file` passes and the
/// plan's steps name it.
#[test]
fn a_ca_file_with_a_byte_order_mark_or_in_der_is_taken() {
    use base64::Engine as _;
    let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    let Some(first) = bundle.split_inclusive("-----END CERTIFICATE-----\n").next() else {
        return skip_or_fail("the OS trust store's bundle");
    };
    let b64: String = first.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("the bundle's first certificate");
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "bom.pem", &format!("\u{feff}{first}"));
    std::fs::write(tmp.path().join("root.cer"), &der).unwrap();
    for file in ["bom.pem", "root.cer"] {
        let (_, failed) = ca_file_check(tmp.path(), file);
        assert!(failed.is_none(), "{file}: {failed:?}");
    }
}

/// `doctor --json` on a profile whose `[network] ca_file` is `file`: the run, and its
/// `network:ca-file` finding (there is none while the file holds a certificate).
fn ca_file_check(dir: &std::path::Path, file: &str) -> (Run, Option<serde_json::Value>) {
    write(
        dir,
        "onramp.toml",
        &format!(
            "name = \"net\"\n[requirements]\ndocker = \"optional\"\n[network]\nca_file = \"{file}\"\n"
        ),
    );
    let r = run(onramp(dir).args(["doctor", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect(&r.stdout);
    let found = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "network:ca-file")
        .cloned();
    (r, found)
}
