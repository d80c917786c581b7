//! What to do about an unreachable engine, on the platform at hand.

use super::{Endpoint, Reach};
use crate::host::Host;
use crate::platform::{Kind, distro_ids};

/// Remedies for one platform.
pub struct Remedies<'a> {
    host: &'a Host,
    kind: Kind,
    ids: Vec<String>,
    podman: Option<Endpoint>,
}

impl<'a> Remedies<'a> {
    pub fn new(host: &'a Host, kind: Kind, os_release: Option<&str>) -> Remedies<'a> {
        Remedies {
            host,
            kind,
            ids: os_release.map(distro_ids).unwrap_or_default(),
            podman: None,
        }
    }

    /// Remedies for this endpoint: Podman's socket is started the Podman way.
    pub fn at(mut self, endpoint: Option<&Endpoint>) -> Remedies<'a> {
        self.podman = endpoint.filter(|e| e.is_podman()).cloned();
        self
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
        if let Some(e) = &self.podman {
            return podman_start(e, self.host.sys_exists("/run/systemd/system"));
        }
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
        if self.podman.is_some() {
            return "install Podman with your distribution's package manager (Debian/Ubuntu: `sudo apt-get install podman`), then start its API service".into();
        }
        match self.kind {
            Kind::Windows => crate::install::pkg::windows_engine_choice(),
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

/// How to start Podman's Docker-compatible API service on `endpoint`: the systemd socket unit
/// where systemd runs, otherwise `podman system service` detached with a log file.
pub fn podman_start(endpoint: &Endpoint, systemd: bool) -> String {
    let uri = &endpoint.endpoint;
    match (endpoint.is_rootless_podman(), systemd) {
        (true, true) => "systemctl --user enable --now podman.socket".into(),
        (false, true) => "sudo systemctl enable --now podman.socket".into(),
        (true, false) => format!(
            "nohup podman system service --time=0 {uri} > \"${{XDG_RUNTIME_DIR}}/podman-service.log\" 2>&1 &"
        ),
        (false, false) => format!(
            "sudo sh -c 'nohup podman system service --time=0 {uri} > /var/log/podman-service.log 2>&1 &'"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(uri: &str) -> Endpoint {
        Endpoint {
            endpoint: uri.into(),
            source: "test".into(),
        }
    }

    #[test]
    fn podman_is_started_as_podman_is() {
        let rootless = at("unix:///run/user/1000/podman/podman.sock");
        let rootful = at("unix:///run/podman/podman.sock");
        assert_eq!(
            podman_start(&rootless, true),
            "systemctl --user enable --now podman.socket"
        );
        assert_eq!(
            podman_start(&rootful, true),
            "sudo systemctl enable --now podman.socket"
        );
        let detached = podman_start(&rootful, false);
        assert!(
            detached.contains("podman system service --time=0 unix:///run/podman/podman.sock"),
            "{detached}"
        );
        assert!(detached.contains("/var/log/podman-service.log"));
        assert!(
            podman_start(&rootless, false).contains("unix:///run/user/1000/podman/podman.sock")
        );
    }
}
