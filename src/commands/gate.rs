//! `onramp gate <PHASE>`: the profile's phase-gate criteria as a pass/fail report, in the shape
//! of the plan's PhaseGateValidator.

use super::Verdict;
use crate::errors::Result;
use crate::gate;
use crate::host::Host;
use crate::printer::Printer;
use crate::project::Project;

pub async fn run(
    project: &Project,
    phase: &str,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let (passed, doc) = gate::check(project, phase, host, printer).await?;
    if printer.json_mode() {
        printer.json(&doc);
    }
    Ok(Verdict::from_ok(passed))
}
