//! Waiting until a service answers its own protocol, failing fast when its container dies.

use std::time::{Duration, Instant};

use crate::engine::api::Engine;
use crate::probe::{self, ProbeError, Target};

/// How many log lines a failure shows.
pub const LOG_TAIL: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    Ready(Duration),
    /// It will not become ready: exited, OOM-killed, restarting, wrong password.
    Failed {
        error: String,
        logs: Option<String>,
    },
    Timeout {
        last_error: String,
    },
}

/// Why a container is no longer a candidate, if it is not.
fn container_gone(c: &crate::engine::api::ContainerInfo, initial_restarts: i64) -> Option<String> {
    if c.oom_killed {
        return Some(format!(
            "the container was OOM-killed (exit code {})",
            c.exit_code
        ));
    }
    if c.restarting || c.restart_count > initial_restarts {
        return Some(format!(
            "the container is restarting (last exit code {})",
            c.exit_code
        ));
    }
    if !c.running {
        return Some(format!("the container exited with code {}", c.exit_code));
    }
    None
}

/// Probe until ready, failed or timed out; `on_wait` hears the last reason it is not ready yet.
/// Times count from `since` (when the container was started).
pub async fn wait<E: Engine>(
    container: Option<(&E, &str)>,
    target: &Target,
    timeout: Duration,
    since: Instant,
    on_wait: &mut (dyn FnMut(&str) + Send),
) -> Readiness {
    let started = since;
    let initial_restarts = match container {
        Some((engine, id)) => engine
            .inspect(id)
            .await
            .ok()
            .flatten()
            .map_or(0, |c| c.restart_count),
        None => 0,
    };
    let mut last = String::from("no attempt yet");
    let mut n = 0;
    loop {
        match probe::attempt(target).await {
            Ok(()) => return Readiness::Ready(started.elapsed()),
            Err(ProbeError::Fatal(e)) => {
                return Readiness::Failed {
                    error: e,
                    logs: None,
                };
            }
            Err(ProbeError::NotYet(e)) => {
                if e != last {
                    on_wait(&e);
                }
                last = e;
            }
        }
        if let Some((engine, id)) = container
            && let Ok(Some(c)) = engine.inspect(id).await
            && let Some(why) = container_gone(&c, initial_restarts)
        {
            let logs = engine.logs_tail(id, LOG_TAIL).await.ok();
            return Readiness::Failed { error: why, logs };
        }
        if started.elapsed() >= timeout {
            return Readiness::Timeout { last_error: last };
        }
        tokio::time::sleep(probe::backoff(n)).await;
        n += 1;
    }
}

/// Probe until it answers, fails for good, or `window` has passed (for `validate` and `gate`).
pub async fn within(target: &Target, window: Duration) -> Result<Duration, ProbeError> {
    let started = crate::host::now();
    let mut n = 0;
    loop {
        match probe::attempt(target).await {
            Ok(()) => return Ok(started.elapsed()),
            Err(e) if e.is_fatal() || started.elapsed() >= window => return Err(e),
            Err(_) => {}
        }
        tokio::time::sleep(probe::backoff(n)).await;
        n += 1;
    }
}

/// A bounded single check, for `status` and `validate`.
pub async fn once(target: &Target) -> Result<Duration, ProbeError> {
    let started = crate::host::now();
    probe::attempt(target).await.map(|()| started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::ContainerInfo;

    #[test]
    fn dead_containers_are_named_with_their_exit_code() {
        let mut c = ContainerInfo {
            running: true,
            ..ContainerInfo::default()
        };
        assert_eq!(container_gone(&c, 0), None);
        c.running = false;
        c.exit_code = 1;
        assert!(
            container_gone(&c, 0)
                .unwrap()
                .contains("exited with code 1")
        );
        c.oom_killed = true;
        c.exit_code = 137;
        assert!(
            container_gone(&c, 0)
                .unwrap()
                .contains("OOM-killed (exit code 137)")
        );
        let r = ContainerInfo {
            running: true,
            restart_count: 2,
            ..ContainerInfo::default()
        };
        assert!(container_gone(&r, 1).unwrap().contains("restarting"));
    }
}
