//! Package managers and distributions as data: which manager installs what, and how.
//!
//! Adding a distribution or a manager is a new row here, never a new branch in the planner.

/// One package manager: how to refresh its index and how to install packages.
#[derive(Debug, PartialEq, Eq)]
pub struct Manager {
    pub name: &'static str,
    /// Refresh the package index before installing (`None`: not needed or not wise).
    pub refresh: Option<&'static [&'static str]>,
    /// Install, non-interactively; the package names are appended.
    pub install: &'static [&'static str],
    /// Whether installing needs root (sudo); brew and winget refuse or do not need it.
    pub needs_root: bool,
    /// Arguments appended after the package names (winget's agreements).
    pub install_tail: &'static [&'static str],
}

pub const APT: Manager = Manager {
    name: "apt",
    refresh: Some(&["apt-get", "update", "-qq"]),
    install: &[
        "env",
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
    ],
    needs_root: true,
    install_tail: &[],
};

pub const DNF: Manager = Manager {
    name: "dnf",
    refresh: None,
    install: &["dnf", "install", "-y"],
    needs_root: true,
    install_tail: &[],
};

pub const PACMAN: Manager = Manager {
    name: "pacman",
    refresh: None,
    install: &["pacman", "-S", "--needed", "--noconfirm"],
    needs_root: true,
    install_tail: &[],
};

pub const ZYPPER: Manager = Manager {
    name: "zypper",
    refresh: None,
    install: &["zypper", "--non-interactive", "install"],
    needs_root: true,
    install_tail: &[],
};

pub const APK: Manager = Manager {
    name: "apk",
    refresh: Some(&["apk", "update"]),
    install: &["apk", "add"],
    needs_root: true,
    install_tail: &[],
};

pub const BREW: Manager = Manager {
    name: "brew",
    refresh: None,
    install: &["brew", "install"],
    needs_root: false,
    install_tail: &[],
};

pub const WINGET: Manager = Manager {
    name: "winget",
    refresh: None,
    install: &["winget", "install", "-e", "--id"],
    needs_root: false,
    install_tail: &[
        "--accept-package-agreements",
        "--accept-source-agreements",
        "--silent",
    ],
};

/// `wsl.exe` subcommands used on Windows (and, through interop, from inside WSL).
pub const WSL_INSTALL: &[&str] = &["wsl", "--install", "--no-distribution"];
pub const WSL_UPDATE: &[&str] = &["wsl", "--update"];
pub const WSL_SHUTDOWN: &[&str] = &["wsl.exe", "--shutdown"];
/// A distribution for the engine inside WSL2.
pub const WSL_INSTALL_UBUNTU: &[&str] = &["wsl", "--install", "-d", "Ubuntu"];

/// How a person installs one package with a manager, as a line (`winget install -e --id X`).
pub fn install_line(m: &Manager, package: &str) -> String {
    m.install
        .iter()
        .chain(std::iter::once(&package))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The PowerShell line that converts a distribution to WSL2, its name quoted for PowerShell
/// (a name is a value: `Ubuntu; rm -r ~` stays one argument); `<distro>` when it is unknown.
pub fn wsl_set_version(distro: Option<&str>) -> String {
    match distro {
        Some(d) => crate::escape::powershell_line(&["wsl", "--set-version", d, "2"]),
        None => "wsl --set-version <distro> 2".into(),
    }
}

/// A Linux distribution family: matched by os-release `ID`, then `ID_LIKE`.
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    /// os-release IDs that belong to this family (either as `ID` or in `ID_LIKE`).
    pub ids: &'static [&'static str],
    pub manager: &'static Manager,
    /// The distribution's own engine package(s).
    pub engine: &'static [&'static str],
    pub python: &'static str,
    /// The venv module's package, `{minor}` replaced by the interpreter's minor version.
    pub venv: Option<&'static str>,
}

pub const FAMILIES: &[Family] = &[
    Family {
        name: "debian",
        ids: &["debian", "ubuntu", "raspbian", "linuxmint", "pop"],
        manager: &APT,
        engine: &["docker.io"],
        python: "python3",
        venv: Some("python3.{minor}-venv"),
    },
    Family {
        name: "fedora",
        ids: &["fedora", "fedora-asahi-remix"],
        manager: &DNF,
        engine: &["moby-engine"],
        python: "python3",
        venv: None,
    },
    Family {
        name: "arch",
        ids: &["arch", "archarm", "manjaro", "endeavouros"],
        manager: &PACMAN,
        engine: &["docker"],
        python: "python",
        venv: None,
    },
    Family {
        name: "alpine",
        ids: &["alpine"],
        manager: &APK,
        engine: &["docker"],
        python: "python3",
        venv: None,
    },
    Family {
        name: "opensuse",
        ids: &[
            "opensuse",
            "opensuse-tumbleweed",
            "opensuse-leap",
            "suse",
            "sles",
        ],
        manager: &ZYPPER,
        engine: &["docker"],
        python: "python3",
        venv: None,
    },
];

/// Engine packages whose presence means an engine exists: never install a second one.
pub const ENGINE_PACKAGES: &[&str] = &[
    "docker.io",
    "docker-ce",
    "moby-engine",
    "podman-docker",
    "docker",
    "docker-desktop",
];

/// Windows packages (winget ids).
pub const WINGET_DOCKER_DESKTOP: &str = "Docker.DockerDesktop";
pub const WINGET_RANCHER_DESKTOP: &str = "SUSE.RancherDesktop";
pub const WINGET_PODMAN: &str = "RedHat.Podman";

/// The engines a Windows workstation may install, Docker Desktop only with the licence flag (its
/// terms bind larger companies): the plan's step and the remedy for a missing engine.
pub fn windows_engine_choice() -> String {
    format!(
        "choose an engine: Docker Desktop (paid for organisations of 250+ people or $10M+ revenue: rerun with --accept-docker-desktop-license to install it), Rancher Desktop (`winget install -e --id {WINGET_RANCHER_DESKTOP}`), Podman (`winget install -e --id {WINGET_PODMAN}`), or Docker Engine inside WSL2 (`onramp migrate wsl` moves this project into a WSL2 distro and sets it up there)"
    )
}
pub const WINGET_PYTHON: &str = "Python.Python.3.12";

/// Homebrew's own installer, as its documentation gives it.
pub const BREW_INSTALLER: &str = "NONINTERACTIVE=1 /bin/bash -c \"$(curl -fsSL https://raw.githubusercontent.com/Homebrew/install/HEAD/install.sh)\"";
pub const BREW_PYTHON: &str = "python@3.12";

/// Known failure strings and codes, each with its remedy.
pub const KNOWN_ERRORS: &[(&str, &str)] = &[
    (
        "0x80370102",
        "the virtual machine platform is off or CPU virtualisation is disabled: turn on \"Virtual Machine Platform\" (`wsl --install` does) and enable virtualisation (VT-x/AMD-V) in the BIOS/UEFI",
    ),
    (
        "0x8007019e",
        "the Windows Subsystem for Linux component is off: run `wsl --install` in an administrator terminal, then reboot",
    ),
    (
        "0x80070003",
        "the distribution is not on the system drive: move it to C: (`wsl --export`/`--import`)",
    ),
    (
        "RULE_APPEND failed",
        "iptables' nf_tables backend fails here: `update-alternatives --set iptables /usr/sbin/iptables-legacy`, then start the engine again",
    ),
    (
        "could not be found in this WSL 2 distro",
        "Docker Desktop's WSL integration is off for this distro: Docker Desktop > Settings > Resources > WSL integration, turn this distro on, Apply & restart",
    ),
    (
        "ensurepip is not available",
        "the interpreter's venv module is missing: install the python3.X-venv package for its version, then remove the half-built venv",
    ),
    (
        "a password is required",
        "sudo wants a password and onramp never prompts for one behind your back: run `sudo -v` first, then onramp again within sudo's timeout",
    ),
];

/// The remedy for a failure whose output holds a known code or string.
pub fn known_error(text: &str) -> Option<&'static str> {
    KNOWN_ERRORS
        .iter()
        .find(|(needle, _)| text.contains(needle))
        .map(|(_, remedy)| *remedy)
}

/// The family of a distribution from its os-release text: `ID` first, then each `ID_LIKE`
/// entry in order, then `UBUNTU_CODENAME` (an Ubuntu derivative that forgot `ID_LIKE`).
pub fn family(os_release: &str) -> Option<&'static Family> {
    let field = |key: &str| {
        os_release.lines().find_map(|l| {
            let v = l.trim().strip_prefix(key)?.strip_prefix('=')?;
            Some(
                v.trim()
                    .trim_matches('"')
                    .trim_matches('\'')
                    .to_ascii_lowercase(),
            )
        })
    };
    let by_id = |id: &str| FAMILIES.iter().find(|f| f.ids.contains(&id));
    if let Some(f) = field("ID").as_deref().and_then(by_id) {
        return Some(f);
    }
    let like = field("ID_LIKE").unwrap_or_default();
    if let Some(f) = like.split_whitespace().find_map(by_id) {
        return Some(f);
    }
    field("UBUNTU_CODENAME")
        .filter(|c| !c.is_empty())
        .and_then(|_| by_id("ubuntu"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fam(text: &str) -> Option<&'static str> {
        family(text).map(|f| f.name)
    }

    #[test]
    fn derivatives_map_to_their_family() {
        assert_eq!(
            fam("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n"),
            Some("debian")
        );
        assert_eq!(fam("ID=pop\nID_LIKE=\"ubuntu debian\"\n"), Some("debian"));
        assert_eq!(fam("ID=raspbian\nID_LIKE=debian\n"), Some("debian"));
        assert_eq!(
            fam("ID=fedora-asahi-remix\nID_LIKE=fedora\n"),
            Some("fedora")
        );
        assert_eq!(
            fam("ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n"),
            Some("opensuse")
        );
        assert_eq!(
            fam("ID=elementary\nUBUNTU_CODENAME=jammy\n"),
            Some("debian")
        );
        assert_eq!(fam("ID=gentoo\n"), None);
    }

    #[test]
    fn known_codes_have_remedies() {
        assert!(
            known_error("Error code: Wsl/Service/0x80370102")
                .unwrap()
                .contains("BIOS")
        );
        assert!(known_error("all fine").is_none());
    }
}
