//! The doctor table: symbol, check, detail and the remedy beneath, for `doctor` and `setup`.

use super::{Outcome, Status};
use crate::printer::{Paint, Printer};

fn symbol(printer: &Printer, s: Status) -> String {
    match s {
        Status::Pass => printer.paint(Paint::Pass, "✓"),
        Status::Warn => printer.paint(Paint::Warn, "!"),
        Status::Fail => printer.paint(Paint::Fail, "✗"),
        Status::Skip => printer.paint(Paint::Dim, "-"),
    }
}

/// The aligned table: symbol, check, detail, and the remedy beneath.
pub fn render(printer: &Printer, outcomes: &[Outcome]) -> String {
    render_as(printer, outcomes, "doctor")
}

/// The same table, its count line named after the command (`verify: 12 ok, ...`).
pub fn render_as(printer: &Printer, outcomes: &[Outcome], command: &str) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.id.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = Vec::new();
    for o in outcomes {
        lines.push(format!(
            "  {} {:width$}  {}",
            symbol(printer, o.status),
            o.id,
            o.detail
        ));
        if let Some(r) = &o.remedy {
            let pad = " ".repeat(width + 4);
            lines.push(format!("  {pad}{} {r}", printer.paint(Paint::Dim, "fix:")));
        }
    }
    let count = |s| outcomes.iter().filter(|o| o.status == s).count();
    lines.push(format!(
        "{command}: {} ok, {} warning(s), {} failing, {} skipped",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip)
    ));
    lines.join("\n")
}
