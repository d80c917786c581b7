//! `onramp report [-o FILE]`: one archive for support, every secret masked, with a verdict.

use std::path::Path;

use serde_json::json;

use super::Verdict;
use crate::errors::{Error, Result};
use crate::fsx::Root;
use crate::host::Host;
use crate::printer::{Paint, Printer};
use crate::project::Project;
use crate::report;

pub async fn run(
    project: &Project,
    output: Option<&Path>,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let now = host.unix_time();
    let path = match output {
        Some(p) => p.to_path_buf(),
        None => project.dir.join(report::default_name(now)),
    };
    let (dir, name) = split(&path)?;
    printer.info("collecting doctor, plan, verify, the engine, containers and logs ...");
    let collected = report::collect(host, project).await;
    let bytes = report::archive(&collected.entries, now)
        .map_err(|e| Error::Internal(format!("cannot pack the report: {e}")))?;
    if !Root::new(dir).create_new(&name, &bytes, 0o600)? {
        return Err(Error::Usage(format!(
            "{} exists; onramp does not replace a file: choose another name with -o FILE",
            path.display()
        )));
    }
    if printer.json_mode() {
        printer.json(&json!({
            "ok": true,
            "path": path.display().to_string(),
            "bytes": bytes.len(),
            "findings": &collected.findings,
        }));
    }
    printer.result(&report::verdict::render(&collected.findings));
    printer.result(&format!(
        "{} wrote {} ({} files, {} KB, secrets masked): attach it to your support request",
        printer.paint(Paint::Pass, "✓"),
        path.display(),
        collected.entries.len(),
        bytes.len().div_ceil(1024)
    ));
    Ok(Verdict::Ready)
}

/// The directory an output file goes into and its name.
fn split(path: &Path) -> Result<(&Path, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Usage(format!("{} is not a file name", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((dir, name.to_string()))
}
