//! Outcomes shared by every command, serde-renamed to the JSON strings of the machine output
//! (`--json`): one meaning of ready, failed and skipped everywhere.

use serde::{Deserialize, Serialize};

/// A service's state as `up` and `status` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Ready,
    Failed,
    Timeout,
    External,
    Stopped,
}

/// What `up` did with a service's container, or (for `status`) the state the engine reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackAction {
    /// Created by this run (or, from the engine, a container created but never started).
    Created,
    Recreated,
    Started,
    /// Restarted because a dependency it names with `restart: true` was recreated.
    Restarted,
    Unchanged,
    /// Made by Compose for this project and service, same configuration: used as it is.
    Adopted,
    /// Not started: a service it depends on did not become ready.
    #[serde(rename = "not started")]
    NotStarted,
    External,
    /// No container exists.
    Absent,
    Running,
    Exited,
    Paused,
    Restarting,
    Removing,
    Dead,
    /// A state this version does not know, as the engine spelled it.
    #[serde(untagged)]
    Other(String),
}

impl StackAction {
    /// The engine's word for a container's state.
    pub fn from_engine(status: &str) -> StackAction {
        match status {
            "created" => StackAction::Created,
            "running" => StackAction::Running,
            "exited" => StackAction::Exited,
            "paused" => StackAction::Paused,
            "restarting" => StackAction::Restarting,
            "removing" => StackAction::Removing,
            "dead" => StackAction::Dead,
            other => StackAction::Other(other.to_string()),
        }
    }

    /// Whether this run made the container (and a rollback removes it).
    pub fn made_by_this_run(&self) -> bool {
        matches!(self, StackAction::Created | StackAction::Recreated)
    }

    pub fn as_str(&self) -> &str {
        match self {
            StackAction::Created => "created",
            StackAction::Recreated => "recreated",
            StackAction::Started => "started",
            StackAction::Restarted => "restarted",
            StackAction::Unchanged => "unchanged",
            StackAction::Adopted => "adopted",
            StackAction::NotStarted => "not started",
            StackAction::External => "external",
            StackAction::Absent => "absent",
            StackAction::Running => "running",
            StackAction::Exited => "exited",
            StackAction::Paused => "paused",
            StackAction::Restarting => "restarting",
            StackAction::Removing => "removing",
            StackAction::Dead => "dead",
            StackAction::Other(s) => s,
        }
    }
}

impl std::fmt::Display for StackAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A check of one thing (a service in `validate`): it answered, it did not, or there was
/// nothing to check (no probe configured). Skipped is never a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Failed,
    Skipped,
}

impl CheckStatus {
    pub fn passes(self) -> bool {
        self != CheckStatus::Failed
    }
}

/// How one rung of the SDK ladder went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RungStatus {
    Passed,
    Failed,
    Skipped,
}

impl RungStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RungStatus::Passed => "passed",
            RungStatus::Failed => "failed",
            RungStatus::Skipped => "skipped",
        }
    }
}

/// One import as the validation script answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportStatus {
    Ok,
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_the_documented_ones() {
        let s = |v: serde_json::Value| v.as_str().unwrap().to_string();
        assert_eq!(
            s(serde_json::to_value(ServiceState::Timeout).unwrap()),
            "timeout"
        );
        assert_eq!(
            s(serde_json::to_value(CheckStatus::Skipped).unwrap()),
            "skipped"
        );
        assert_eq!(
            s(serde_json::to_value(RungStatus::Passed).unwrap()),
            "passed"
        );
        assert_eq!(
            s(serde_json::to_value(StackAction::Recreated).unwrap()),
            "recreated"
        );
        assert_eq!(
            s(serde_json::to_value(StackAction::from_engine("frozen")).unwrap()),
            "frozen"
        );
        assert_eq!(StackAction::from_engine("exited"), StackAction::Exited);
    }

    #[test]
    fn skipped_is_not_a_failure() {
        assert!(CheckStatus::Skipped.passes());
        assert!(CheckStatus::Ok.passes());
        assert!(!CheckStatus::Failed.passes());
        assert!(StackAction::Recreated.made_by_this_run());
        assert!(!StackAction::Unchanged.made_by_this_run());
    }
}
