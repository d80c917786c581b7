//! Is there a real Python interpreter of the version the profile needs? (The machine snapshot
//! looked; the fix is the installer's plan.)

use super::{Ctx, Outcome, Status};
use crate::python::{Interpreter, Rejected};

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let req = ctx.profile.requirements.python.as_deref();
    let found = &ctx.machine.python;
    let passed = passed_over(&found.rejected, &found.out_of_range);
    if let Some(i) = &found.interpreter {
        let mut detail = format!(
            "Python {} at {} ({})",
            i.version,
            i.program.display(),
            i.label
        );
        if !passed.is_empty() {
            detail.push_str(&format!("; passed over: {passed}"));
        }
        return vec![Outcome::new("python", Status::Pass, detail)];
    }
    let want = req.unwrap_or("any");
    let detail = if passed.is_empty() {
        format!("no Python interpreter found (need {want})")
    } else {
        format!("no usable Python {want}: {passed}")
    };
    let fix = ctx
        .fix_for("python")
        .unwrap_or_else(|| "pass --python PATH to an interpreter in range".into());
    vec![Outcome::new("python", Status::Fail, detail).remedy(fix)]
}

fn passed_over(rejected: &[Rejected], too_old: &[Interpreter]) -> String {
    rejected
        .iter()
        .map(|r| format!("{} ({}) {}", r.label, r.program.display(), r.reason))
        .chain(
            too_old
                .iter()
                .map(|i| format!("{} is {}", i.program.display(), i.version)),
        )
        .collect::<Vec<_>>()
        .join("; ")
}
