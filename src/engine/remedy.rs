//! What to do about an unreachable engine, on the platform at hand.

use super::Reach;
use crate::host::Host;
use crate::platform::{Kind, distro_ids};

/// Remedies for one platform.
pub struct Remedies<'a> {
    host: &'a Host,
    kind: Kind,
    ids: Vec<String>,
}

impl<'a> Remedies<'a> {
    pub fn new(host: &'a Host, kind: Kind, os_release: Option<&str>) -> Remedies<'a> {
        Remedies {
            host,
            kind,
            ids: os_release.map(distro_ids).unwrap_or_default(),
        }
    }

    fn has(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }

    /// The remedy for an engine that is not ready for the given reason.
    pub fn for_reach(&self, reach: &Reach) -> String {
        match reach {
            Reach::Ready(_) => String::new(),
            Reach::NotInstalled => self.install(),
            Reach::NotRunning(_) => self.start(),
            Reach::PermissionDenied(_) => self.permission(),
            Reach::Timeout => format!("the engine is hung or starting; {}", self.start()),
            Reach::ApiTooOld(_) => self.upgrade(),
            Reach::Unreachable(_) => self.endpoint(),
        }
    }

    pub fn start(&self) -> String {
        match self.kind {
            Kind::Windows | Kind::Macos => "start Docker Desktop and wait until it says Engine running".into(),
            Kind::Wsl2 if self.host.which("dockerd").is_none() => {
                "start Docker Desktop on Windows with WSL integration on for this distro (Settings > Resources > WSL integration)".into()
            }
            _ if self.host.sys_exists("/run/systemd/system") => "sudo systemctl start docker".into(),
            _ => "sudo service docker start   (no systemd here: or `sudo dockerd > /var/log/dockerd.log 2>&1 &`)".into(),
        }
    }

    pub fn install(&self) -> String {
        match self.kind {
            Kind::Windows => {
                "winget install Docker.DockerDesktop   (then enable the WSL2 backend)".into()
            }
            Kind::Macos => "brew install --cask docker   (then start Docker Desktop)".into(),
            _ if self.has("debian") || self.has("ubuntu") => {
                "sudo apt-get install docker.io && sudo systemctl enable --now docker".into()
            }
            _ if self.has("fedora") || self.has("rhel") => {
                "sudo dnf install moby-engine && sudo systemctl enable --now docker".into()
            }
            _ if self.has("arch") => {
                "sudo pacman -S docker && sudo systemctl enable --now docker".into()
            }
            _ if self.has("opensuse") || self.has("suse") => {
                "sudo zypper install docker && sudo systemctl enable --now docker".into()
            }
            _ => "install Docker Engine with your distribution's package manager, then start it"
                .into(),
        }
    }

    pub fn upgrade(&self) -> String {
        match self.kind {
            Kind::Windows | Kind::Macos => "update Docker Desktop to a current release".into(),
            _ => "upgrade the Docker engine with your package manager".into(),
        }
    }

    pub fn permission(&self) -> String {
        "sudo usermod -aG docker $USER, then log out and in again (or run `newgrp docker`)".into()
    }

    pub fn endpoint(&self) -> String {
        "check DOCKER_HOST / DOCKER_CONTEXT (`docker context ls`), or unset them to use the local engine".into()
    }
}
