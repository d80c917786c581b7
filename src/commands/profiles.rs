//! `onramp profiles [NAME]`: list the embedded profiles, or print one fully resolved.

use super::Verdict;
use crate::config::Config;
use crate::errors::{Error, Result};
use crate::host::Host;
use crate::printer::Printer;
use crate::profile::{self, Choice, ComposeOptions};

/// `profiles NAME` shows the profile as the project in `--dir` would use it: with the team's
/// network file of that project (or the one `ONRAMP_NETWORK_FILE` names), never the current
/// folder's.
pub fn run(config: &Config, host: &Host, printer: &Printer, name: Option<&str>) -> Result<Verdict> {
    let Some(name) = name else {
        return list(printer);
    };
    let env = |k: &str| host.env(k).map(String::from);
    let loaded = profile::load_with(
        &Choice::Named(name.to_string()),
        &ComposeOptions {
            dir: &config.dir,
            file: None,
            profiles: Vec::new(),
            named: Vec::new(),
            env: &env,
            import_only: false,
        },
    )?;
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

/// The profile TOML equivalent to a Compose file: its services with the probes onramp infers,
/// ready to save as `onramp.toml` (secrets masked: copy them from the Compose file or `.env`).
pub fn from_compose(
    config: &Config,
    host: &Host,
    printer: &Printer,
    file: &std::path::Path,
) -> Result<Verdict> {
    let env = |k: &str| host.env(k).map(String::from);
    let loaded = profile::load_with(
        &Choice::Default,
        &ComposeOptions {
            dir: &config.dir,
            file: Some(file.to_path_buf()),
            profiles: config.selection.compose_profiles.clone(),
            named: Vec::new(),
            env: &env,
            import_only: true,
        },
    )?;
    crate::profile::kinds::register_secrets(&loaded.profile);
    let converted = loaded.profile;
    let mut services = converted.services;
    for svc in services.values_mut() {
        // The image a build is tagged with is derived; the profile needs only the build.
        if svc.build.is_some() {
            svc.image = None;
        }
    }
    // Saved as onramp.toml (which extends the default profile), the base's other services
    // would come back: switch them off.
    let base = profile::load(&Choice::Default)?.profile;
    for name in base.services.keys() {
        services
            .entry(name.clone())
            .or_insert_with(|| profile::Service {
                enabled: Some(false),
                ..profile::Service::default()
            });
    }
    let shown = profile::Profile {
        extends: Some(profile::DEFAULT_PROFILE.into()),
        project: converted.project,
        services,
        ..profile::Profile::default()
    }
    .redacted_json();
    let shown = without_nulls(shown);
    if printer.json_mode() {
        let v = serde_json::to_value(&shown).map_err(|e| Error::Internal(e.to_string()))?;
        printer.json(&v);
        return Ok(Verdict::Ready);
    }
    let text = toml::to_string(&shown).map_err(|e| Error::Internal(e.to_string()))?;
    for note in &loaded.notes {
        printer.result(&format!("# {note}"));
    }
    printer.result(&format!(
        "# The profile equivalent to {}; secrets are shown as ***.",
        file.display()
    ));
    printer.result(text.trim_end());
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
