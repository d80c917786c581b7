//! Phase gates: the profile's criteria for a phase (imports, services, commands with a measured
//! value) judged one by one, reported in the shape of the plan's PhaseGateValidator.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::engine;
use crate::errors::{Error, Result};
use crate::host::{Cmd, Host};
use crate::printer::{Paint, Printer};
use crate::profile::{Criterion, Metric, Profile, parse_duration};
use crate::project::Project;
use crate::sdk::{self, Runner, Spec};

const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// One criterion's verdict.
struct Met {
    required: Value,
    actual: Value,
    passed: bool,
    detail: String,
}

/// Judge every criterion of the phase's gate, printing each; returns whether the gate passed
/// and the PhaseGateValidator document.
pub async fn check(
    project: &Project,
    phase: &str,
    host: &Host,
    printer: &Printer,
) -> Result<(bool, Value)> {
    let profile = &project.profile;
    let Some(gate) = profile.gates.get(phase) else {
        let known: Vec<&str> = profile.gates.keys().map(String::as_str).collect();
        return Err(Error::Usage(format!(
            "profile {} has no gate `{phase}`; it has: {}",
            profile.display_name(),
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        )));
    };
    let needs_python = gate
        .criteria
        .iter()
        .any(|c| c.imports.is_some() || c.command.iter().flatten().any(|a| a.contains("{python}")));
    let runner = if needs_python {
        let engine = engine::connect_ready(host).await.ok();
        let quiet = Printer::silent();
        let opts = sdk::Options {
            explicit_python: None,
            wheelhouse: None,
            machine: None,
        };
        sdk::ladder(host, &project.dir, profile, &opts, &quiet, engine.as_ref())
            .await
            .runner
            .filter(|r| r.program.is_absolute())
    } else {
        None
    };
    let mut criteria_met = BTreeMap::new();
    for c in &gate.criteria {
        let met = judge(&project.dir, host, profile, c, runner.as_ref()).await;
        let mark = if met.passed {
            printer.paint(Paint::Pass, "✓")
        } else {
            printer.paint(Paint::Fail, "✗")
        };
        printer.result(&format!(
            "{mark} {:30} required {:8} actual {:8} {}",
            c.name,
            met.required.to_string(),
            met.actual.to_string(),
            met.detail
        ));
        criteria_met.insert(
            c.name.clone(),
            json!({"required": met.required, "actual": met.actual, "passed": met.passed, "detail": met.detail}),
        );
    }
    let overall = criteria_met.values().all(|m| m["passed"] == true);
    printer.result(&format!(
        "gate {phase}: {}",
        if overall {
            printer.paint(Paint::Pass, "passed")
        } else {
            printer.paint(Paint::Fail, "not passed")
        }
    ));
    let doc = json!({
        "phase": phase,
        "overall_passed": overall,
        "ready_for_next_phase": overall,
        "criteria_met": criteria_met,
    });
    Ok((overall, doc))
}

async fn judge(
    dir: &std::path::Path,
    host: &Host,
    profile: &Profile,
    c: &Criterion,
    runner: Option<&Runner>,
) -> Met {
    if let Some(imports) = &c.imports {
        return imports_met(host, dir, imports, runner).await;
    }
    if let Some(services) = &c.services {
        let quiet = Printer::silent();
        let checks = crate::validation::check_services(&quiet, profile, Some(services)).await;
        let failed: Vec<String> = checks
            .iter()
            .filter(|s| !s.status.passes())
            .map(|s| format!("{}: {}", s.name, s.detail))
            .collect();
        return Met {
            required: json!(true),
            actual: json!(failed.is_empty()),
            passed: failed.is_empty(),
            detail: if failed.is_empty() {
                format!("{} service(s) answer", checks.len())
            } else {
                failed.join("; ")
            },
        };
    }
    let Some(command) = &c.command else {
        return Met {
            required: json!(true),
            actual: json!(false),
            passed: false,
            detail: "no check defined".into(),
        };
    };
    command_met(host, dir, c, command, runner).await
}

async fn imports_met(
    host: &Host,
    dir: &std::path::Path,
    imports: &[String],
    runner: Option<&Runner>,
) -> Met {
    let Some(Runner {
        program,
        args,
        spec: base,
    }) = runner
    else {
        return Met {
            required: json!(true),
            actual: json!(false),
            passed: false,
            detail: "no working Python for the SDK (`onramp validate`)".into(),
        };
    };
    let spec = Spec {
        imports: imports.to_vec(),
        instantiate: vec![],
        preload: base.preload.clone(),
        path: base.path.clone(),
    };
    match sdk::validate_with(host, program, args, dir, &spec).await {
        Ok(v) => {
            let failed: Vec<String> = v
                .imports
                .iter()
                .filter(|i| !i.ok())
                .map(sdk::ImportResult::summary)
                .collect();
            Met {
                required: json!(true),
                actual: json!(failed.is_empty()),
                passed: failed.is_empty(),
                detail: if failed.is_empty() {
                    format!("{} import(s) pass", imports.len())
                } else {
                    failed.join("; ")
                },
            }
        }
        Err(e) => Met {
            required: json!(true),
            actual: json!(false),
            passed: false,
            detail: e.to_string(),
        },
    }
}

async fn command_met(
    host: &Host,
    dir: &std::path::Path,
    c: &Criterion,
    command: &[String],
    runner: Option<&Runner>,
) -> Met {
    let min = c.min.unwrap_or(0.0);
    let metric = c.metric.unwrap_or(Metric::ExitCode);
    let required = if metric == Metric::ExitCode {
        json!(true)
    } else {
        json!(min)
    };
    let fail = |detail: String| Met {
        required: required.clone(),
        actual: if metric == Metric::ExitCode {
            json!(false)
        } else {
            json!(0)
        },
        passed: false,
        detail,
    };
    let python = runner
        .map(|r| r.program.display().to_string())
        .unwrap_or_else(|| "python3".into());
    let argv: Vec<String> = command
        .iter()
        .map(|a| a.replace("{python}", &python))
        .collect();
    let Some((program, rest)) = argv.split_first() else {
        return fail("empty command".into());
    };
    let timeout = c
        .timeout
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(COMMAND_TIMEOUT);
    let cmd = Cmd::new(program, timeout).cwd(dir).args(rest);
    let out = match host.run(&cmd).await {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    let text = format!("{}\n{}", out.stdout, out.stderr);
    match metric {
        Metric::ExitCode => {
            let ok = out.code == Some(0);
            Met {
                required,
                actual: json!(ok),
                passed: ok,
                detail: sdk::exit_text(out.code),
            }
        }
        Metric::PytestCollected => {
            let Some(n) = pytest_collected(&text) else {
                return fail(format!(
                    "no pytest collection summary ({})",
                    sdk::exit_text(out.code)
                ));
            };
            let actual = c.total.map_or(
                n as f64,
                |t| if t > 0.0 { n as f64 * 100.0 / t } else { 0.0 },
            );
            Met {
                required,
                actual: json!(round(actual)),
                passed: actual + 1e-9 >= min,
                detail: format!("{n} test(s) collected"),
            }
        }
        Metric::PytestPassRate => {
            let Some((passed, total)) = pytest_outcomes(&text) else {
                return fail(format!(
                    "no pytest result summary ({})",
                    sdk::exit_text(out.code)
                ));
            };
            let rate = if total == 0 {
                0.0
            } else {
                passed as f64 * 100.0 / total as f64
            };
            Met {
                required,
                actual: json!(round(rate)),
                passed: rate + 1e-9 >= min,
                detail: format!("{passed} of {total} test(s) passed"),
            }
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `12 tests collected in 0.03s`, `1 test collected`, `no tests collected`, `collected 12 items`.
pub fn pytest_collected(text: &str) -> Option<u64> {
    for line in text.lines().rev() {
        let l = line.trim().trim_matches('=').trim();
        if l.starts_with("no tests collected") || l.starts_with("collected 0 items") {
            return Some(0);
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            let next = words.get(i + 1).copied().unwrap_or("");
            let prev = if i > 0 { words[i - 1] } else { "" };
            let summary = (next.starts_with("test")
                && words.get(i + 2).is_some_and(|x| x.starts_with("collected")))
                || (prev == "collected" && next.starts_with("item"));
            if summary && let Ok(n) = w.trim_end_matches('/').parse() {
                return Some(n);
            }
        }
    }
    None
}

/// (passed, passed + failed + errors) from pytest's summary line.
pub fn pytest_outcomes(text: &str) -> Option<(u64, u64)> {
    for line in text.lines().rev() {
        let l = line.trim().trim_matches('=').trim();
        let mut found = false;
        let (mut passed, mut failed, mut errors) = (0, 0, 0);
        for part in l.split(" in ").next().unwrap_or("").split(',') {
            let mut w = part.split_whitespace();
            let (Some(n), Some(kind)) = (w.next().and_then(|n| n.parse::<u64>().ok()), w.next())
            else {
                continue;
            };
            match kind {
                "passed" => passed = n,
                "failed" => failed = n,
                "error" | "errors" => errors = n,
                _ => {}
            }
            found |= matches!(kind, "passed" | "failed" | "error" | "errors");
        }
        if found {
            return Some((passed, passed + failed + errors));
        }
        if l.starts_with("no tests ran") {
            return Some((0, 0));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_collection_summaries() {
        assert_eq!(
            pytest_collected("a.py::t1\na.py::t2\n\n2 tests collected in 0.01s\n"),
            Some(2)
        );
        assert_eq!(pytest_collected("1 test collected in 0.01s"), Some(1));
        assert_eq!(
            pytest_collected("=== 7 tests collected, 1 error in 0.2s ==="),
            Some(7)
        );
        assert_eq!(pytest_collected("no tests collected in 0.01s"), Some(0));
        assert_eq!(pytest_collected("collected 12 items"), Some(12));
        assert_eq!(pytest_collected("ImportError: nope"), None);
    }

    #[test]
    fn pytest_result_summaries() {
        assert_eq!(
            pytest_outcomes("..F\n2 passed, 1 failed in 0.12s\n"),
            Some((2, 3))
        );
        assert_eq!(
            pytest_outcomes("==== 3 passed, 1 warning in 0.1s ===="),
            Some((3, 3))
        );
        assert_eq!(
            pytest_outcomes("1 failed, 2 passed, 1 error in 1s"),
            Some((2, 4))
        );
        assert_eq!(pytest_outcomes("no tests ran in 0.01s"), Some((0, 0)));
        assert_eq!(pytest_outcomes("Traceback"), None);
    }
}
