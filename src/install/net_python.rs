//! The `python-trust` step: pip and uv trust the company root for the project, whatever their
//! version. pip before 24.2 has no truststore and verifies against its own certifi bundle, so a
//! root in the OS store alone does not reach it; `cert` replaces that bundle rather than adding
//! to it. So the step writes the combined bundle (`netdiag::bundle`: the OS roots plus the
//! company root) and points the project venv's own pip configuration at it (`.venv/pip.conf`,
//! the site file pip reads from `sys.prefix`, on every pip since 10). onramp's own installs (the
//! SDK ladder's venv rung) run with `PIP_CERT`, `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE` and
//! `UV_NATIVE_TLS` set to it (`install_env`), and write the same `pip.conf` into a venv they
//! create (`conf_text`). Nothing outside the project is touched; undo removes what was added.

use std::path::Path;

use super::{Action, Probe, State, Step};
pub use crate::netdiag::pip::{PyProject, Venv, conf_rel};

/// The first line of a pip configuration onramp wrote.
pub const MARK: &str = "# Written by onramp (`doctor --fix`, step python-trust): pip trusts the company root through the project's CA bundle.";

/// The pip configuration onramp writes into the project venv; none for a bundle path a line of
/// pip's INI file cannot hold (a line break in the project folder's name would start a setting
/// of its own).
pub fn conf_text(bundle: &str) -> Option<String> {
    if bundle.chars().any(char::is_control) {
        return None;
    }
    Some(format!("{MARK}\n[global]\ncert = {bundle}\n"))
}

/// The environment onramp's own pip, uv and poetry runs get when the project has a bundle: pip
/// reads `PIP_CERT`; uv `SSL_CERT_FILE` (with `UV_NATIVE_TLS`, older uv reads it only then);
/// requests (poetry) `REQUESTS_CA_BUNDLE`.
pub fn install_env(bundle: &Path) -> Vec<(String, String)> {
    let b = bundle.display().to_string();
    ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
        .iter()
        .map(|k| (k.to_string(), b.clone()))
        .chain([("UV_NATIVE_TLS".to_string(), "1".to_string())])
        .collect()
}

/// Remember a file added inside the project for the network's undo script to remove.
pub fn record_added(root: &crate::fsx::Root, rel: &str) -> Result<(), String> {
    super::sysfile::added(root, rel)
}

/// Whether a pip configuration names this bundle as `cert`.
fn names_bundle(conf: &str, bundle: &str) -> bool {
    conf.lines().any(|l| {
        l.split_once(['=', ':'])
            .is_some_and(|(k, v)| k.trim() == "cert" && v.trim() == bundle)
    })
}

/// The step, when pip or uv do not yet trust the company root for the project.
pub fn step(p: &PyProject, ca_path: &str, ca_subject: &str, fingerprint: &str) -> Option<Step> {
    let conf_ok = p.venv.as_ref().is_none_or(|v| {
        v.conf_text
            .as_deref()
            .is_some_and(|t| names_bundle(t, &p.bundle))
    });
    if p.bundle_current && conf_ok {
        return None;
    }
    let mut change = vec![Action::CaBundle {
        ca_file: ca_path.to_string(),
        path: p.bundle.clone(),
    }];
    let mut check = format!(
        "grep -qF {} {}",
        crate::escape::shell(fingerprint),
        crate::escape::shell(&p.bundle)
    );
    if let Some(v) = &p.venv {
        change.push(venv_conf(v, &p.bundle));
        check.push_str(&format!(
            " && grep -qF {} {}",
            crate::escape::shell(&format!("cert = {}", p.bundle)),
            crate::escape::shell(&v.conf)
        ));
    }
    let check = Probe::Command {
        argv: vec!["sh".into(), "-c".into(), check],
    };
    // Verified by pip itself: the venv's pip, with its own configuration, asks the index.
    let verify = match (&p.venv, &p.package) {
        (Some(v), Some(pkg)) => Probe::Command {
            argv: [
                v.python.as_str(),
                "-m",
                "pip",
                "index",
                "versions",
                "--disable-pip-version-check",
                pkg,
            ]
            .map(String::from)
            .to_vec(),
        },
        _ => check.clone(),
    };
    let manual = change.iter().any(|a| matches!(a, Action::Manual { .. }));
    Some(Step {
        id: "python-trust".into(),
        why: format!(
            "pip and uv do not trust \"{ca_subject}\" (from {ca_path}) for this project: pip before 24.2 uses its own certifi bundle, not the OS store"
        ),
        state: if manual { State::Manual } else { State::Todo },
        check,
        change,
        verify,
        note: Some(format!(
            "undo: sh {}; uv run by hand: SSL_CERT_FILE={} UV_NATIVE_TLS=1",
            super::net_base::UNDO,
            crate::escape::shell(&p.bundle)
        )),
    })
}

/// The venv's pip configuration: written when there is none or it is onramp's; a file of the
/// user's is left to the user.
fn venv_conf(v: &Venv, bundle: &str) -> Action {
    let Some(content) = conf_text(bundle) else {
        return Action::Manual {
            text: format!(
                "the project's path holds a line break, which {} cannot: move the project to a folder without one, or set PIP_CERT to the bundle for each pip run",
                v.conf
            ),
        };
    };
    match &v.conf_text {
        Some(t) if !t.starts_with(MARK) => Action::Manual {
            text: format!(
                "{} is yours (onramp never replaces it): add `cert = {bundle}` under `[global]`",
                v.conf
            ),
        },
        _ => Action::ProjectFile {
            path: v.conf.clone(),
            content,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line break in the project's path never reaches pip's INI file as a setting of its own,
    /// and the uv line in the note can be pasted into a shell.
    #[test]
    fn a_project_path_pip_conf_cannot_hold_is_left_to_the_user() {
        let mut p = project(Some(None));
        p.bundle = "/p\nindex-url = http://evil/\n/.onramp/net/ca-bundle.pem".into();
        let s = step(&p, "/p/root.pem", "CN=Root", "AAAA").unwrap();
        assert_eq!(s.state, State::Manual, "{s:?}");
        assert!(
            !s.change
                .iter()
                .any(|a| matches!(a, Action::ProjectFile { .. }))
        );
        assert!(conf_text(&p.bundle).is_none());
        let mut p = project(Some(None));
        p.bundle = "/home/d/my $(id) app/.onramp/net/ca-bundle.pem".into();
        let s = step(&p, "/p/root.pem", "CN=Root", "AAAA").unwrap();
        assert!(
            s.note
                .as_deref()
                .unwrap()
                .contains("SSL_CERT_FILE='/home/d/my $(id) app/.onramp/net/ca-bundle.pem'"),
            "{:?}",
            s.note
        );
    }

    fn project(venv: Option<Option<&str>>) -> PyProject {
        PyProject {
            bundle: "/p/.onramp/net/ca-bundle.pem".into(),
            bundle_current: false,
            venv: venv.map(|t| Venv {
                python: "/p/.venv/bin/python".into(),
                conf: "/p/.venv/pip.conf".into(),
                conf_text: t.map(String::from),
            }),
            package: Some("kailash".into()),
        }
    }

    fn plan(p: &PyProject) -> Option<Step> {
        step(p, "/p/corp.pem", "CN=Corp Root", "oyo=")
    }

    #[test]
    fn without_a_venv_the_step_writes_the_bundle_only() {
        let s = plan(&project(None)).unwrap();
        assert_eq!(s.state, State::Todo);
        assert_eq!(s.change.len(), 1);
        assert!(
            matches!(&s.change[0], Action::CaBundle { path, .. } if path.ends_with("ca-bundle.pem"))
        );
        assert_eq!(s.verify, s.check);
        assert!(s.why.contains("certifi"), "{}", s.why);
    }

    #[test]
    fn a_venv_gets_its_pip_conf_and_pip_itself_verifies() {
        let s = plan(&project(Some(None))).unwrap();
        let Action::ProjectFile { path, content } = &s.change[1] else {
            panic!("{s:?}")
        };
        assert_eq!(path, "/p/.venv/pip.conf");
        assert!(content.starts_with(MARK));
        assert!(content.contains("[global]\ncert = /p/.onramp/net/ca-bundle.pem\n"));
        let Probe::Command { argv } = &s.verify else {
            panic!("{s:?}")
        };
        assert_eq!(
            argv[..5],
            ["/p/.venv/bin/python", "-m", "pip", "index", "versions"]
        );
        assert_eq!(argv.last().map(String::as_str), Some("kailash"));
    }

    #[test]
    fn the_users_own_pip_conf_is_left_to_the_user() {
        let s = plan(&project(Some(Some(
            "[global]\nindex-url = https://idx/simple\n",
        ))))
        .unwrap();
        assert_eq!(s.state, State::Manual);
        assert!(s.summary().contains("never replaces"), "{}", s.summary());
    }

    #[test]
    fn nothing_is_planned_when_the_bundle_is_current_and_pip_names_it() {
        let mut p = project(Some(Some(
            &conf_text("/p/.onramp/net/ca-bundle.pem").unwrap(),
        )));
        p.bundle_current = true;
        assert!(plan(&p).is_none());
        // A stale bundle is rewritten.
        p.bundle_current = false;
        assert!(plan(&p).is_some());
        // A user's file that names the bundle is enough.
        p.bundle_current = true;
        p.venv.as_mut().unwrap().conf_text =
            Some("[global]\ncert = /p/.onramp/net/ca-bundle.pem\n".into());
        assert!(plan(&p).is_none());
    }

    #[test]
    fn onramps_installs_get_every_clients_variable() {
        let env = install_env(Path::new("/p/b.pem"));
        for k in ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"] {
            assert!(
                env.contains(&(k.to_string(), "/p/b.pem".to_string())),
                "{k}"
            );
        }
        assert!(env.contains(&("UV_NATIVE_TLS".into(), "1".into())));
    }
}
