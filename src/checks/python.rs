//! Is there a real Python interpreter of the version the profile needs?

use super::{Ctx, Outcome, Status};
use crate::python::{self, Interpreter, Rejected};
use crate::version::VersionReq;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let req = ctx
        .profile
        .requirements
        .python
        .as_deref()
        .and_then(|r| VersionReq::parse(r).ok());
    let found = python::find(&ctx.host, &ctx.dir, None, req.as_ref()).await;
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
    let want = req.map(|r| r.to_string()).unwrap_or_else(|| "any".into());
    let detail = if passed.is_empty() {
        format!("no Python interpreter found (need {want})")
    } else {
        format!("no usable Python {want}: {passed}")
    };
    vec![Outcome::new("python", Status::Fail, detail).remedy(python::install_remedy(&ctx.host))]
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
