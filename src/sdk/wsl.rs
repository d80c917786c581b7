//! The WSL2 rung, as a plan of commands built from data, so its logic is tested anywhere.

use crate::install::pkg;

/// A command to run on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: String,
    pub args: Vec<String>,
}

/// What `wsl.exe -l -v` says about the installed distributions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    pub name: String,
    pub default: bool,
    pub version: u8,
}

/// Parse `wsl.exe -l -v` as the WSL module reads it (UTF-16LE read as text, NULs and a BOM's
/// remains dropped; a localised header skipped):
/// ```text
///   NAME            STATE           VERSION
/// * Ubuntu-22.04    Running         2
///   Debian          Stopped         1
/// ```
pub fn parse_list(text: &str) -> Vec<Distro> {
    let text = crate::wsl::parse::decode_lossy(text);
    crate::wsl::parse::distros(&text)
        .into_iter()
        .map(|d| Distro {
            name: d.name,
            default: d.default,
            version: d.version,
        })
        .collect()
}

/// `C:\Users\dev\proj` as WSL sees it: `/mnt/c/Users/dev/proj`.
pub fn wsl_path(windows: &str) -> Option<String> {
    let mut chars = windows.chars();
    let drive = chars.next()?.to_ascii_lowercase();
    if !drive.is_ascii_alphabetic() || chars.next()? != ':' {
        return None;
    }
    let rest: String = chars.as_str().replace('\\', "/");
    Some(format!("/mnt/{drive}{rest}"))
}

/// What to do on Windows: run the validation in the default WSL2 distribution, or say how to
/// get one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Run(Step),
    /// No WSL2 distribution: the remedy to give.
    Remedy(String),
}

pub fn plan(distros: &[Distro], project: &str, script: &str, spec: &str) -> Plan {
    let Some(d) = distros
        .iter()
        .find(|d| d.default && d.version == 2)
        .or_else(|| distros.iter().find(|d| d.version == 2))
    else {
        return Plan::Remedy(match distros.first() {
            Some(d) => pkg::wsl_set_version(Some(&d.name)),
            None => format!(
                "{}   (then restart, and run onramp again)",
                pkg::WSL_INSTALL_UBUNTU.join(" ")
            ),
        });
    };
    let Some(dir) = wsl_path(project) else {
        return Plan::Remedy(format!(
            "{project} is not on a drive WSL can mount; move the project to a local drive"
        ));
    };
    Plan::Run(Step {
        program: "wsl.exe".into(),
        args: vec![
            "-d".into(),
            d.name.clone(),
            "--cd".into(),
            dir,
            "-e".into(),
            "python3".into(),
            "-c".into(),
            script.into(),
            spec.into(),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "  NAME            STATE           VERSION\n* Ubuntu-22.04    Running         2\n  Debian          Stopped         1\n";

    #[test]
    fn distributions_are_parsed() {
        let d = parse_list(LIST);
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].name.as_str(), d[0].default, d[0].version),
            ("Ubuntu-22.04", true, 2)
        );
        assert_eq!((d[1].name.as_str(), d[1].version), ("Debian", 1));
    }

    #[test]
    fn wsl_exe_utf16_read_as_text_gives_the_same_list() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(
            LIST.replace('\n', "\r\r\n")
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        let lossy = String::from_utf8_lossy(&bytes);
        assert_eq!(parse_list(&lossy), parse_list(LIST));
    }

    #[test]
    fn the_plan_runs_in_the_default_wsl2_distro() {
        let Plan::Run(step) = plan(&parse_list(LIST), "C:\\Users\\dev\\horme", "S", "{}") else {
            panic!()
        };
        assert_eq!(step.program, "wsl.exe");
        assert_eq!(
            &step.args[..4],
            ["-d", "Ubuntu-22.04", "--cd", "/mnt/c/Users/dev/horme"]
        );
    }

    #[test]
    fn without_wsl2_the_plan_is_a_remedy() {
        let only_v1 = "  NAME STATE VERSION\n* Debian Stopped 1\n";
        assert_eq!(
            plan(&parse_list(only_v1), "C:\\p", "S", "{}"),
            Plan::Remedy("wsl --set-version Debian 2".into())
        );
        assert!(
            matches!(plan(&[], "C:\\p", "S", "{}"), Plan::Remedy(r) if r.starts_with("wsl --install"))
        );
        assert_eq!(wsl_path("D:\\work\\x").as_deref(), Some("/mnt/d/work/x"));
        assert_eq!(wsl_path("\\\\server\\share"), None);
    }
}
