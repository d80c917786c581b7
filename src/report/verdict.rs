//! The report's verdict: known failure patterns, found in doctor's and verify's outcomes, the
//! containers' states and the logs, each mapped to the fix that is known to work.

use serde::Serialize;

use crate::checks::{Outcome, Status};
use crate::engine::api::ContainerInfo;

/// One recognised problem: what it is, where it was seen, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub problem: String,
    pub evidence: String,
    pub fix: String,
}

/// A log pattern (lowercase), what it means and its fix.
const LOG_PATTERNS: &[(&str, &str, &str)] = &[
    (
        "password authentication failed",
        "a client's password does not match the one the database was initialised with",
        "the password in the data volume is the first one it was created with: use that one, or `onramp reset SERVICE` to initialise it afresh (deletes its data; asks first)",
    ),
    (
        "wrongpass",
        "Redis refused the password given",
        "use the password in the profile's redis command (`--requirepass`), the same one `.env` gets from `onramp generate`",
    ),
    (
        "address already in use",
        "a port the service wants is taken on the host",
        "`onramp doctor` names the holder of each port; stop it or publish the service on another port in onramp.toml",
    ),
    (
        "exec format error",
        "the image was built for another CPU architecture than this engine's",
        "`onramp verify` names the image and the platforms it is offered for; use an image with a build for this machine",
    ),
    (
        "no space left on device",
        "the disk holding the engine's data or the project is full",
        "free space (`docker system df` shows what the engine holds), then `onramp up` again",
    ),
    (
        crate::stack::diagnose::PG_INCOMPATIBLE,
        "the data volume was initialised by another PostgreSQL major version",
        "`onramp reset SERVICE` deletes that volume's data and starts afresh (asks first); or dump it with the old version's image first",
    ),
    (
        "x509: certificate signed by unknown authority",
        "a TLS-intercepting proxy presents a company certificate the engine does not trust",
        "`onramp doctor --fix` adds the company root to the system's store and restarts the engine",
    ),
    (
        "toomanyrequests",
        "the registry's pull rate limit was reached",
        "`docker login` (authenticated pulls have a higher limit), or a registry mirror",
    ),
    (
        "permission denied while trying to connect to the docker daemon",
        "this user may not use the engine's socket",
        "`onramp doctor --fix` adds the user to the docker group (then log in again); never chmod the socket",
    ),
    (
        "cannot connect to the docker daemon",
        "the engine is not running",
        "`onramp doctor --fix` starts it",
    ),
];

/// Every finding from the outcomes, the containers and the logs (`(name, text)`).
pub fn findings(
    doctor: &[Outcome],
    verify: &[Outcome],
    containers: &[ContainerInfo],
    logs: &[(String, String)],
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (source, outcomes) in [("doctor", doctor), ("verify", verify)] {
        for o in outcomes.iter().filter(|o| o.status == Status::Fail) {
            out.push(Finding {
                problem: o.detail.clone(),
                evidence: format!("{source}: {}", o.id),
                fix: o.remedy.clone().unwrap_or_else(|| "see the detail".into()),
            });
        }
    }
    out.extend(containers.iter().filter_map(container_finding));
    for (name, text) in logs {
        out.extend(log_findings(name, text));
    }
    out
}

/// A container that was OOM-killed, or exited with a failure.
fn container_finding(c: &ContainerInfo) -> Option<Finding> {
    if c.oom_killed {
        return Some(Finding {
            problem: format!("{} was killed for want of memory", c.name),
            evidence: format!("container {}: OOMKilled", c.name),
            fix: "give the engine more memory (Docker Desktop / WSL2: its memory setting), or lower the service's `resources.memory`".into(),
        });
    }
    (!c.running && c.exit_code != 0).then(|| Finding {
        problem: format!("{} exited with code {}", c.name, c.exit_code),
        evidence: format!("container {}: {}", c.name, c.status),
        fix: format!(
            "its log tail is in containers/{}.log; `onramp up` starts it again once the cause is fixed",
            c.name
        ),
    })
}

/// The known patterns a log shows, each once.
pub fn log_findings(name: &str, text: &str) -> Vec<Finding> {
    let lower = text.to_ascii_lowercase();
    LOG_PATTERNS
        .iter()
        .filter(|(pattern, _, _)| lower.contains(&pattern.to_ascii_lowercase()))
        .map(|(pattern, problem, fix)| Finding {
            problem: problem.to_string(),
            evidence: format!("{name}: \"{pattern}\""),
            fix: fix.to_string(),
        })
        .collect()
}

/// The verdict as a person reads it.
pub fn render(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "Verdict: no known failure pattern was found.\n".into();
    }
    let mut text = format!("Verdict: {} known problem(s).\n", findings.len());
    for (i, f) in findings.iter().enumerate() {
        text.push_str(&format!(
            "\n{}. {}\n   seen in: {}\n   fix: {}\n",
            i + 1,
            f.problem,
            f.evidence,
            f.fix
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_log_lines_map_to_their_fix() {
        let f = log_findings(
            "containers/db.log",
            "FATAL:  password authentication failed for user \"app\"\n",
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].fix.contains("onramp reset"));
        assert!(log_findings("x", "all fine\n").is_empty());
        let f = log_findings("x", "standard_init_linux.go: exec format error");
        assert!(f[0].problem.contains("architecture"));
    }

    #[test]
    fn failures_and_dead_containers_become_findings() {
        let doctor = vec![Outcome::new("docker", Status::Fail, "not running").remedy("start it")];
        let oom = ContainerInfo {
            name: "p-db-1".into(),
            oom_killed: true,
            ..ContainerInfo::default()
        };
        let exited = ContainerInfo {
            name: "p-cache-1".into(),
            exit_code: 1,
            status: "exited".into(),
            ..ContainerInfo::default()
        };
        let f = findings(&doctor, &[], &[oom, exited], &[]);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].fix, "start it");
        assert!(f[1].problem.contains("memory"));
        assert!(f[2].problem.contains("exited with code 1"));
        assert!(render(&f).starts_with("Verdict: 3 known problem(s)."));
        assert!(render(&[]).contains("no known failure"));
    }
}
