//! `onramp images save -o FILE` / `onramp images load FILE`: the profile's images as one archive.

use std::path::Path;

use serde_json::json;

use super::Verdict;
use crate::errors::Result;
use crate::host::Host;
use crate::images;
use crate::printer::Printer;
use crate::project::Project;

pub async fn save(
    project: &Project,
    output: &Path,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let saved = images::save_for(host, project, output, printer).await?;
    if printer.json_mode() {
        printer.json(&json!({"ok": true, "saved": saved}));
    }
    printer.result(&format!(
        "saved {} image(s) to {} ({} MB): {}",
        saved.images.len(),
        saved.path.display(),
        saved.bytes / 1_000_000,
        saved.images.join(", ")
    ));
    Ok(Verdict::Ready)
}

pub async fn load(
    project: &Project,
    file: &Path,
    host: &Host,
    printer: &Printer,
) -> Result<Verdict> {
    let loaded = images::load_for(host, project, file, printer).await?;
    if printer.json_mode() {
        printer.json(&json!({"ok": true, "loaded": loaded}));
    }
    if !loaded.skipped.is_empty() {
        printer.warn(&format!(
            "the archive also carries {}: not loaded, since the profile does not name them (loading them would re-point those tags on this machine)",
            loaded.skipped.join(", ")
        ));
    }
    printer.result(&format!(
        "loaded {}; every image the profile needs is present: {}",
        loaded.path.display(),
        loaded.images.join(", ")
    ));
    Ok(Verdict::Ready)
}
