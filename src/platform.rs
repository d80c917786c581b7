//! Which platform this is (Linux, WSL1, WSL2, Windows, macOS), decided from layered evidence
//! that is reported with the answer. `detect` is pure; `collect` gathers facts through the host.

use serde::{Deserialize, Serialize};

use crate::host::{Host, Os};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Linux,
    Wsl1,
    Wsl2,
    Windows,
    Macos,
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Linux => "linux",
            Kind::Wsl1 => "wsl1",
            Kind::Wsl2 => "wsl2",
            Kind::Windows => "windows",
            Kind::Macos => "macos",
            Kind::Unknown => "unknown",
        }
    }
}

/// Everything detection looks at, as read from the machine (or from a recording).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub os: Option<Os>,
    pub arch: String,
    pub osrelease: Option<String>,
    pub proc_version: Option<String>,
    pub wsl_interop: bool,
    pub run_wsl: bool,
    pub wsl_distro_name: Option<String>,
    pub wsl_interop_env: bool,
    pub dockerenv: bool,
    pub containerenv: bool,
    pub container_env: Option<String>,
    pub cgroup: Option<String>,
    pub os_release: Option<String>,
    /// Windows' product name and build number (`Windows 10 Pro`, `19045`), on Windows.
    pub windows: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Platform {
    pub kind: Kind,
    pub evidence: Vec<String>,
    pub arch: String,
    pub distro: Option<String>,
    pub container: bool,
    /// The WSL distribution's name, when known (for `wsl --set-version <distro> 2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wsl_distro: Option<String>,
}

/// Read the facts through the host (`ONRAMP_SYSROOT` applies).
pub fn collect(host: &Host) -> Facts {
    Facts {
        os: Some(host.os()),
        arch: std::env::consts::ARCH.to_string(),
        osrelease: host.sys_read("/proc/sys/kernel/osrelease"),
        proc_version: host.sys_read("/proc/version"),
        wsl_interop: host
            .sys_list("/proc/sys/fs/binfmt_misc")
            .iter()
            .any(|n| n.starts_with("WSLInterop")),
        run_wsl: host.sys_exists("/run/WSL"),
        wsl_distro_name: host.env("WSL_DISTRO_NAME").map(str::to_string),
        wsl_interop_env: host.env("WSL_INTEROP").is_some(),
        dockerenv: host.sys_exists("/.dockerenv"),
        containerenv: host.sys_exists("/run/.containerenv"),
        container_env: host.env("container").map(str::to_string),
        cgroup: host.sys_read("/proc/1/cgroup"),
        os_release: host
            .sys_read("/etc/os-release")
            .or_else(|| host.sys_read("/usr/lib/os-release")),
        windows: host.windows_version(),
    }
}

/// What the kernel release string says about WSL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KernelSays {
    Wsl1,
    Wsl2,
    /// "microsoft" appears, but not in a WSL release shape (cloud images, build identities).
    MentionsMicrosoft,
    Nothing,
}

fn kernel_says(osrelease: &str, proc_version: &str) -> KernelSays {
    let rel = osrelease.trim().to_ascii_lowercase();
    let ver = proc_version.to_ascii_lowercase();
    if rel.contains("microsoft-standard") || rel.contains("wsl2") {
        return KernelSays::Wsl2;
    }
    if is_wsl1_release(&rel) {
        return KernelSays::Wsl1;
    }
    if rel.contains("microsoft") || ver.contains("microsoft") {
        return KernelSays::MentionsMicrosoft;
    }
    KernelSays::Nothing
}

/// WSL1's synthetic kernel: `3.4.0-Microsoft` or `4.4.0-<build>-Microsoft`.
fn is_wsl1_release(rel: &str) -> bool {
    let Some(stem) = rel.strip_suffix("-microsoft") else {
        return false;
    };
    let mut parts = stem.splitn(2, '-');
    let base = parts.next().unwrap_or("");
    let build_ok = parts
        .next()
        .is_none_or(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()));
    (base == "4.4.0" || base == "3.4.0") && build_ok
}

const CONTAINER_CGROUP_MARKERS: &[&str] = &["docker", "kubepods", "containerd", "libpod", "lxc"];

/// Decide the platform from facts, listing the evidence used.
pub fn detect(f: &Facts) -> Platform {
    let mut evidence = Vec::new();
    let container = detect_container(f, &mut evidence);
    let kind = match f.os {
        Some(Os::Windows) => {
            evidence.push("built for Windows".into());
            if let Some((name, build)) = &f.windows {
                evidence.push(format!("{name}, build {build} (from the OS version)"));
            }
            Kind::Windows
        }
        Some(Os::Macos) => {
            evidence.push("built for macOS".into());
            Kind::Macos
        }
        Some(Os::Linux) | None => detect_linux(f, container, &mut evidence),
        Some(Os::Other) => Kind::Unknown,
    };
    let wsl_distro = matches!(kind, Kind::Wsl1 | Kind::Wsl2)
        .then(|| f.wsl_distro_name.clone())
        .flatten();
    Platform {
        kind,
        evidence,
        arch: f.arch.clone(),
        distro: match (&f.windows, kind) {
            (Some((name, build)), Kind::Windows) => Some(format!("{name} (build {build})")),
            _ => f.os_release.as_deref().and_then(distro_name),
        },
        container,
        wsl_distro,
    }
}

fn detect_container(f: &Facts, evidence: &mut Vec<String>) -> bool {
    let mut found = false;
    if f.dockerenv {
        evidence.push("/.dockerenv exists (Docker container)".into());
        found = true;
    }
    if f.containerenv {
        evidence.push("/run/.containerenv exists (Podman container)".into());
        found = true;
    }
    if let Some(c) = &f.container_env {
        evidence.push(format!("container={c} in the environment"));
        found = true;
    }
    let cgroup_hit = f.cgroup.as_deref().and_then(|cg| {
        CONTAINER_CGROUP_MARKERS
            .iter()
            .find(|m| cg.lines().any(|l| l.contains(*m)))
    });
    if let Some(m) = cgroup_hit {
        evidence.push(format!("/proc/1/cgroup mentions {m}"));
        found = true;
    }
    found
}

fn detect_linux(f: &Facts, container: bool, evidence: &mut Vec<String>) -> Kind {
    let rel = f.osrelease.as_deref().unwrap_or("").trim();
    let ver = f.proc_version.as_deref().unwrap_or("");
    if f.osrelease.is_none() && f.proc_version.is_none() {
        evidence.push("no /proc/sys/kernel/osrelease or /proc/version to read".into());
        return Kind::Unknown;
    }
    let says = kernel_says(rel, ver);
    let fs_markers = wsl_fs_markers(f);
    let env_markers = f.wsl_distro_name.is_some() || f.wsl_interop_env;
    if container && matches!(says, KernelSays::Wsl1 | KernelSays::Wsl2) {
        evidence.push(format!(
            "kernel `{rel}` is WSL's, seen from inside a container (Docker Desktop's WSL2 backend): a Linux container"
        ));
        return Kind::Linux;
    }
    match says {
        KernelSays::Wsl2 => {
            evidence.push(format!("kernel release `{rel}` is a WSL2 kernel"));
            evidence.extend(fs_markers);
            Kind::Wsl2
        }
        KernelSays::Wsl1 => {
            evidence.push(format!("kernel release `{rel}` is WSL1's synthetic kernel"));
            evidence.extend(fs_markers);
            Kind::Wsl1
        }
        KernelSays::MentionsMicrosoft | KernelSays::Nothing if !fs_markers.is_empty() => {
            evidence.push(format!(
                "kernel release `{rel}` is not a Microsoft build (a custom kernel, which only WSL2 runs)"
            ));
            evidence.extend(fs_markers);
            Kind::Wsl2
        }
        KernelSays::MentionsMicrosoft if env_markers => {
            evidence.push(format!("kernel `{rel}` mentions Microsoft"));
            evidence.push("WSL_DISTRO_NAME/WSL_INTEROP set (tie-breaker)".into());
            Kind::Wsl2
        }
        KernelSays::MentionsMicrosoft => {
            evidence.push(format!(
                "kernel `{rel}` mentions Microsoft but not in a WSL release shape, and no WSL interop or /run/WSL: not WSL"
            ));
            Kind::Linux
        }
        KernelSays::Nothing => {
            evidence.push(format!("kernel release `{rel}`"));
            if env_markers {
                evidence.push(
                    "WSL_DISTRO_NAME/WSL_INTEROP set without kernel or filesystem evidence: ignored"
                        .into(),
                );
            }
            Kind::Linux
        }
    }
}

fn wsl_fs_markers(f: &Facts) -> Vec<String> {
    let mut out = Vec::new();
    if f.wsl_interop {
        out.push("/proc/sys/fs/binfmt_misc/WSLInterop is registered".into());
    }
    if f.run_wsl {
        out.push("/run/WSL exists".into());
    }
    out
}

/// `PRETTY_NAME`, else `NAME VERSION_ID`, from os-release text.
pub fn distro_name(os_release: &str) -> Option<String> {
    let field = |key: &str| {
        os_release.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix('=')?;
            Some(v.trim().trim_matches('"').trim_matches('\'').to_string())
        })
    };
    field("PRETTY_NAME").or_else(|| match (field("NAME"), field("VERSION_ID")) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (n, _) => n,
    })
}

/// The os-release `ID` and `ID_LIKE`, lowercased, for choosing package-manager remedies.
pub fn distro_ids(os_release: &str) -> Vec<String> {
    os_release
        .lines()
        .filter_map(|l| l.strip_prefix("ID=").or_else(|| l.strip_prefix("ID_LIKE=")))
        .flat_map(|v| {
            v.trim_matches('"')
                .split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(osrelease: &str, version: &str) -> Facts {
        Facts {
            os: Some(Os::Linux),
            arch: "x86_64".into(),
            osrelease: Some(format!("{osrelease}\n")),
            proc_version: Some(format!("{version}\n")),
            ..Facts::default()
        }
    }

    // Recorded on real systems (quoted in public bug reports of WSL-aware projects).
    const WSL1_REL: &str = "4.4.0-19041-Microsoft";
    const WSL1_VER: &str = "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) #488-Microsoft Mon Sep 01 13:43:00 PST 2020";
    const WSL2_REL: &str = "5.15.153.1-microsoft-standard-WSL2";
    const WSL2_VER: &str = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc (GCC) 11.2.0, GNU ld (GNU Binutils) 2.37) #1 SMP Fri Mar 29 23:14:13 UTC 2024";
    const WSL2_OLD_REL: &str = "4.19.128-microsoft-standard";
    const WSL2_OLD_VER: &str = "Linux version 4.19.128-microsoft-standard (oe-user@oe-host) (gcc version 8.2.0 (GCC)) #1 SMP Tue Jun 23 12:58:10 UTC 2020";
    const WSL2_SELF_BUILT: &str = "Linux version 6.6.84.1-microsoft-standard-WSL2+ (stoney@platypus) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #3 SMP PREEMPT_DYNAMIC Sun Apr  6 13:55:34 PDT 2025";
    const DEBIAN_REL: &str = "6.1.0-18-amd64";
    const DEBIAN_VER: &str = "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)";
    const LINUXKIT_REL: &str = "6.10.14-linuxkit";
    const AZURE_REL: &str = "5.15.0-1073-azure";
    const AZURE_MS_BUILDER: &str = "Linux version 5.15.0-1073-azure (Microsoft@azure-kernel-builder) (gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0) #82-Ubuntu SMP Mon Sep 30 2024";

    #[test]
    fn wsl1_from_its_synthetic_kernel() {
        let p = detect(&linux(WSL1_REL, WSL1_VER));
        assert_eq!(p.kind, Kind::Wsl1);
        assert!(p.evidence[0].contains(WSL1_REL));
        assert_eq!(detect(&linux("3.4.0-Microsoft", "")).kind, Kind::Wsl1);
    }

    #[test]
    fn wsl2_from_current_and_old_kernel_names() {
        assert_eq!(detect(&linux(WSL2_REL, WSL2_VER)).kind, Kind::Wsl2);
        assert_eq!(detect(&linux(WSL2_OLD_REL, WSL2_OLD_VER)).kind, Kind::Wsl2);
        assert_eq!(
            detect(&linux("6.6.84.1-microsoft-standard-WSL2+", WSL2_SELF_BUILT)).kind,
            Kind::Wsl2
        );
        assert_eq!(
            detect(&linux("4.19.112-microsoft-WSL2-standard", "")).kind,
            Kind::Wsl2
        );
    }

    #[test]
    fn custom_wsl2_kernel_is_found_by_interop() {
        let mut f = linux(
            "6.8.0-custom",
            "Linux version 6.8.0-custom (me@box) (gcc 13)",
        );
        f.wsl_interop = true;
        let p = detect(&f);
        assert_eq!(p.kind, Kind::Wsl2);
        assert!(p.evidence.iter().any(|e| e.contains("WSLInterop")));
    }

    #[test]
    fn a_microsoft_built_cloud_kernel_is_plain_linux() {
        let p = detect(&linux(AZURE_REL, AZURE_MS_BUILDER));
        assert_eq!(p.kind, Kind::Linux);
        assert!(p.evidence[0].contains("not in a WSL release shape"));
    }

    #[test]
    fn environment_variables_only_break_ties() {
        let mut f = linux(AZURE_REL, AZURE_MS_BUILDER);
        f.wsl_distro_name = Some("Ubuntu".into());
        let p = detect(&f);
        assert_eq!(p.kind, Kind::Wsl2);
        assert_eq!(p.wsl_distro.as_deref(), Some("Ubuntu"));
        let mut f = linux(DEBIAN_REL, DEBIAN_VER);
        f.wsl_distro_name = Some("Ubuntu".into());
        assert_eq!(detect(&f).kind, Kind::Linux);
    }

    #[test]
    fn plain_linux_and_docker_desktop() {
        let p = detect(&linux(DEBIAN_REL, DEBIAN_VER));
        assert_eq!((p.kind, p.container), (Kind::Linux, false));
        let mut f = linux(
            LINUXKIT_REL,
            "Linux version 6.10.14-linuxkit (root@buildkitsandbox)",
        );
        f.dockerenv = true;
        let p = detect(&f);
        assert_eq!((p.kind, p.container), (Kind::Linux, true));
    }

    #[test]
    fn container_on_a_wsl2_kernel_is_a_linux_container() {
        let mut f = linux(WSL2_REL, WSL2_VER);
        f.cgroup = Some("0::/\n1:name=systemd:/docker/0123abcd\n".into());
        let p = detect(&f);
        assert_eq!((p.kind, p.container), (Kind::Linux, true));
    }

    #[test]
    fn distro_from_os_release() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n";
        assert_eq!(
            distro_name(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        let ubuntu = "ID=ubuntu\nID_LIKE=debian\n";
        assert_eq!(distro_ids(ubuntu), ["ubuntu", "debian"]);
    }

    #[test]
    fn windows_names_its_build() {
        let f = Facts {
            os: Some(Os::Windows),
            arch: "x86_64".into(),
            windows: Some(("Windows 11 Pro".into(), "22631".into())),
            ..Facts::default()
        };
        let p = detect(&f);
        assert_eq!(p.kind, Kind::Windows);
        assert_eq!(p.distro.as_deref(), Some("Windows 11 Pro (build 22631)"));
        assert!(
            p.evidence.iter().any(|e| e.contains("build 22631")),
            "{:?}",
            p.evidence
        );
    }

    #[test]
    fn missing_kernel_files_are_unknown() {
        let f = Facts {
            os: Some(Os::Linux),
            ..Facts::default()
        };
        assert_eq!(detect(&f).kind, Kind::Unknown);
    }
}
