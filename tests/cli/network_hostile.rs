//! Hostile values in the company-network settings, run through the real binary: a proxy
//! password must never be printed, however the proxy value is written.

use crate::common::write;
use crate::network::{check, doctor};

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
