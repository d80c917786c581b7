//! `onramp profiles [NAME]`: list the embedded profiles, or print one fully resolved.

use super::Verdict;
use crate::errors::{Error, Result};
use crate::printer::Printer;
use crate::profile::{self, Choice};

pub fn run(printer: &Printer, name: Option<&str>) -> Result<Verdict> {
    let Some(name) = name else {
        return list(printer);
    };
    let loaded = profile::load(&Choice::Named(name.to_string()))?;
    let shown = loaded.profile.redacted_json();
    if printer.json_mode() {
        printer.json(&shown);
    } else {
        let text =
            toml::to_string(&without_nulls(shown)).map_err(|e| Error::Internal(e.to_string()))?;
        let from: Vec<&str> = loaded.sources.iter().map(|s| s.label.as_str()).collect();
        printer.result(&format!("# resolved from: {}", from.join(" <- ")));
        printer.result(text.trim_end());
    }
    Ok(Verdict::Ready)
}

fn list(printer: &Printer) -> Result<Verdict> {
    let mut rows = Vec::new();
    for name in profile::embedded_names() {
        let p = profile::load(&Choice::Named(name.clone()))?.profile;
        let services: Vec<&str> = p.services().map(|(n, _)| n.as_str()).collect();
        let services = services.join(", ");
        rows.push((name, p.description.unwrap_or_default(), services));
    }
    if printer.json_mode() {
        let list: Vec<_> = rows
            .iter()
            .map(|(n, d, s)| serde_json::json!({"name": n, "description": d, "services": s.split(", ").collect::<Vec<_>>()}))
            .collect();
        printer.json(&serde_json::json!({ "profiles": list }));
        return Ok(Verdict::Ready);
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (n, d, s) in &rows {
        let default = if n == profile::DEFAULT_PROFILE {
            " (default)"
        } else {
            ""
        };
        printer.result(&format!(
            "{n:width$}  {d}{default}\n{:width$}  services: {s}",
            ""
        ));
    }
    Ok(Verdict::Ready)
}

/// TOML has no null: drop them (unset optional keys) before printing.
fn without_nulls(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}
