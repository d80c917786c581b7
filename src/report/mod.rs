//! `report`: one archive for support. Doctor, the installer's plan, verify, the engine's own
//! answer, the project's containers with their states and log tails, onramp's logs, versions,
//! platform facts (WSL settings where present), the project's profile files, and a verdict
//! that maps known failure patterns to their fix.
//!
//! Every secret is registered with the masker before anything is written (the profile, `.env`,
//! the Compose file, the containers' environment, labels and command lines), and every file of
//! the archive passes through [`crate::secrets`] once more on its way in. Each part runs under
//! its own time bound, so the report is made without an engine or a network too.

pub mod verdict;

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::checks::Outcome;
use crate::engine::api::{ContainerInfo, Engine};
use crate::fsx::Root;
use crate::host::Host;
use crate::machine::{Depth, Machine};
use crate::platform::{self, Platform};
use crate::project::{Project, STATE_DIR};
use crate::secrets;
use verdict::Finding;

/// How long one part (doctor, plan, verify, the engine) may take.
const PART_TIMEOUT: Duration = Duration::from_secs(4);
/// Lines of each container's log.
const LOG_LINES: usize = 200;
/// The folder every file of the archive sits in.
const TOP: &str = "onramp-report";

/// One file of the archive, before masking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub text: String,
}

/// Everything collected, and what the verdict found in it.
#[derive(Debug, Clone)]
pub struct Collected {
    pub entries: Vec<Entry>,
    pub findings: Vec<Finding>,
}

/// What the engine part found.
#[derive(Debug, Default)]
struct EnginePart {
    entries: Vec<Entry>,
    containers: Vec<ContainerInfo>,
    logs: Vec<(String, String)>,
}

/// Collect every part, each bounded in time, from one machine snapshot (doctor's).
pub async fn collect(host: &Host, project: &Project) -> Collected {
    register_project_secrets(project);
    let (doctor, machine) = match bounded(crate::doctor::examine(host, project, Depth::Plan)).await
    {
        Ok((ctx, outcomes)) => (Ok(outcomes), Some(ctx.machine)),
        Err(why) => (Err(why), None),
    };
    let plat = machine.as_ref().map_or_else(
        || platform::detect(&platform::collect(host)),
        |m| m.platform.clone(),
    );
    let (verify, engine) = match &machine {
        Some(m) => {
            tokio::join!(
                bounded(verify(host, project, m)),
                bounded(engine_part(host, project, m)),
            )
        }
        None => {
            let why = "the machine could not be examined in time".to_string();
            (Err(why.clone()), Err(why))
        }
    };
    let plan = machine.as_deref().map(|m| plan(project, m));
    let engine = engine.unwrap_or_else(|why| EnginePart {
        entries: vec![entry("engine/unreachable.txt", why)],
        ..EnginePart::default()
    });
    let doctor_outcomes = doctor.clone().unwrap_or_default();
    let (verify_outcomes, verify_doc) = match verify {
        Ok((outcomes, doc)) => (outcomes, doc),
        Err(why) => (Vec::new(), json!({ "error": why })),
    };
    let mut logs = engine.logs.clone();
    let onramp_logs = onramp_logs(project);
    logs.extend(onramp_logs.iter().map(|e| (e.name.clone(), e.text.clone())));
    let findings = verdict::findings(
        &doctor_outcomes,
        &verify_outcomes,
        &engine.containers,
        &logs,
    );
    let mut entries = vec![
        entry("verdict.txt", verdict::render(&findings)),
        json_entry("verdict.json", &json!({ "findings": &findings })),
        json_entry(
            "doctor.json",
            &match &doctor {
                Ok(o) => json!({ "platform": &plat, "checks": o }),
                Err(why) => json!({ "platform": &plat, "error": why }),
            },
        ),
        json_entry(
            "plan.json",
            &plan
                .unwrap_or_else(|| json!({ "error": "the machine could not be examined in time" })),
        ),
        json_entry("verify.json", &verify_doc),
    ];
    entries.extend(engine.entries);
    entries.extend(onramp_logs);
    entries.extend(platform_entries(host, &plat));
    entries.extend(project_entries(project));
    entries.push(entry("versions.txt", versions(&plat, &verify_doc)));
    entries.insert(0, entry("README.txt", index(&entries)));
    Collected { entries, findings }
}

/// Mask every entry (the last pass) and pack them as one gzip-compressed tar archive.
pub fn archive(entries: &[Entry], mtime: u64) -> std::io::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for e in entries {
        let text = secrets::mask_text(&e.text);
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        tar.append_data(&mut header, format!("{TOP}/{}", e.name), text.as_bytes())?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

/// `onramp-report-20260130-094501.tar.gz` for a time in seconds since the epoch (UTC).
pub fn default_name(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let (y, m, d) = civil(days);
    format!(
        "onramp-report-{y:04}{m:02}{d:02}-{:02}{:02}{:02}.tar.gz",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Year, month and day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

async fn bounded<T>(f: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(PART_TIMEOUT, f)
        .await
        .map_err(|_| format!("did not finish within {} s", PART_TIMEOUT.as_secs()))
}

fn entry(name: &str, text: impl Into<String>) -> Entry {
    Entry {
        name: name.to_string(),
        text: text.into(),
    }
}

/// A JSON file, masked as JSON (secret keys, argument lists) before the text pass.
fn json_entry(name: &str, value: &Value) -> Entry {
    let mut v = value.clone();
    secrets::mask_json(&mut v);
    entry(
        name,
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
    )
}

/// Register the secrets of the profile, the project's `.env` and the Compose file.
fn register_project_secrets(project: &Project) {
    crate::profile::kinds::register_secrets(&project.profile);
    let root = Root::new(&project.dir);
    if let Ok(Some(text)) = root.read_text(".env") {
        register_lines(&text);
    }
    for source in &project.sources {
        register_lines(&source.text);
    }
    if let Some(text) = project
        .compose
        .as_deref()
        .and_then(crate::fsx::read_text_file)
    {
        register_lines(&text);
    }
}

/// Register the values of `KEY=value`, `KEY: value` and `- KEY=value` lines under secret keys.
pub fn register_lines(text: &str) {
    secrets::register_from_text(text);
    for line in text.lines() {
        let body = line
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("export ");
        let Some(at) = body.find(['=', ':']) else {
            continue;
        };
        let key = body[..at].trim().trim_matches(['"', '\'']);
        if secrets::is_secret_key(key) {
            secrets::register(body[at + 1..].trim().trim_matches(['"', '\'', ',']));
        }
    }
}

/// Register what a container carries: secret env values and labels, flagged arguments.
fn register_container(c: &ContainerInfo) {
    for e in &c.env {
        if let Some((k, v)) = e.split_once('=')
            && secrets::is_secret_key(k)
        {
            secrets::register(v);
        }
    }
    for (k, v) in &c.labels {
        if secrets::is_secret_key(k) {
            secrets::register(v);
        }
    }
    let args = c.cmd.clone().unwrap_or_default();
    for pair in args.windows(2) {
        if secrets::SECRET_FLAGS.contains(&pair[0].as_str()) {
            secrets::register(&pair[1]);
        }
    }
    for a in &args {
        if let Some((flag, v)) = a.split_once('=')
            && secrets::SECRET_FLAGS.contains(&flag)
        {
            secrets::register(v);
        }
    }
}

/// The installer's plan for this machine and profile, shown, never applied.
fn plan(project: &Project, machine: &Machine) -> Value {
    let wants = crate::checks::wants(&project.profile, &project.dir, false);
    serde_json::to_value(machine.plan(&wants)).unwrap_or_default()
}

async fn verify(host: &Host, project: &Project, machine: &Machine) -> (Vec<Outcome>, Value) {
    match crate::verify::gather::gather(host, project, machine, false).await {
        Ok(facts) => {
            let v = crate::verify::judge(&facts);
            let python = facts
                .python
                .as_ref()
                .and_then(|p| p.found.as_ref().ok().cloned());
            let packages = facts
                .python
                .as_ref()
                .and_then(|p| p.packages.as_ref())
                .and_then(|l| l.as_ref().ok())
                .map(|l| l.packages.clone());
            let doc = json!({
                "ok": v.ok,
                "drifts": v.drifts,
                "checks": &v.checks,
                "engine": facts.engine.as_ref().and_then(|e| e.as_ref().ok()),
                "python": python,
                "packages": packages,
            });
            (v.checks, doc)
        }
        Err(e) => (
            Vec::new(),
            json!({ "error": e.to_string(), "help": e.help() }),
        ),
    }
}

/// The engine's version and info, and the project's containers with their log tails.
async fn engine_part(host: &Host, project: &Project, machine: &Machine) -> EnginePart {
    let connected = match crate::engine::connect_probed(host, &machine.engine).await {
        Ok(c) => c,
        Err(probe) => {
            return EnginePart {
                entries: vec![entry(
                    "engine/unreachable.txt",
                    crate::engine::describe(&probe) + "\n",
                )],
                ..EnginePart::default()
            };
        }
    };
    let docker = connected.api.docker();
    let mut entries = Vec::new();
    if let Ok(v) = docker.version().await {
        entries.push(json_entry("engine/version.json", &json!(v)));
    }
    if let Ok(i) = docker.info().await {
        entries.push(json_entry("engine/info.json", &json!(i)));
    }
    let label = (crate::stack::LABEL_PROJECT, project.name.as_str());
    let containers = connected.api.list(&[label]).await.unwrap_or_default();
    containers.iter().for_each(register_container);
    let mut logs = Vec::new();
    for c in &containers {
        let tail = connected
            .api
            .logs_tail(&c.id, LOG_LINES)
            .await
            .unwrap_or_else(|e| format!("(no log: {e})"));
        let name = format!("containers/{}.log", c.name);
        entries.push(entry(&name, tail.clone()));
        logs.push((name, tail));
    }
    entries.push(json_entry(
        "containers.json",
        &json!(containers.iter().map(container_json).collect::<Vec<_>>()),
    ));
    EnginePart {
        entries,
        containers,
        logs,
    }
}

/// A container's state and settings, secrets masked by key and flag.
fn container_json(c: &ContainerInfo) -> Value {
    let env: Vec<String> = c
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => format!("{k}={}", secrets::mask_value(k, v)),
            None => e.clone(),
        })
        .collect();
    let labels: serde_json::Map<String, Value> = c
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(secrets::mask_value(k, v))))
        .collect();
    json!({
        "name": c.name,
        "id": c.id,
        "image": c.image,
        "running": c.running,
        "restarting": c.restarting,
        "status": c.status,
        "exit_code": c.exit_code,
        "oom_killed": c.oom_killed,
        "restart_count": c.restart_count,
        "ports": c.ports,
        "command": c.cmd.as_deref().map(secrets::mask_args),
        "env": env,
        "labels": labels,
    })
}

/// onramp's own logs (`.onramp/logs`).
fn onramp_logs(project: &Project) -> Vec<Entry> {
    let root = Root::new(&project.dir);
    let dir = format!("{STATE_DIR}/logs");
    root.list(&dir)
        .into_iter()
        .filter_map(|name| {
            let text = root.read(&format!("{dir}/{name}")).ok().flatten()?;
            Some(entry(
                &format!("onramp-logs/{name}"),
                String::from_utf8_lossy(&text).into_owned(),
            ))
        })
        .collect()
}

/// Platform facts: detection with its evidence, os-release, the kernel, WSL settings.
fn platform_entries(host: &Host, plat: &Platform) -> Vec<Entry> {
    let mut out = vec![json_entry("platform/platform.json", &json!(plat))];
    for (name, path) in [
        ("platform/os-release", "/etc/os-release"),
        ("platform/proc-version", "/proc/version"),
        ("platform/osrelease", "/proc/sys/kernel/osrelease"),
        ("platform/wsl.conf", "/etc/wsl.conf"),
    ] {
        if let Some(text) = host.sys_read(path) {
            out.push(entry(name, text));
        }
    }
    if let Some(text) = host
        .home()
        .and_then(|h| crate::fsx::read_text_file(&h.join(".wslconfig")))
    {
        out.push(entry("platform/wslconfig", text));
    }
    out
}

/// The project's profile files, resolved profile, `.env`, manifest and lock, all masked.
fn project_entries(project: &Project) -> Vec<Entry> {
    let root = Root::new(&project.dir);
    let mut out = vec![json_entry(
        "project/profile.json",
        &project.profile.redacted_json(),
    )];
    for (i, s) in project.sources.iter().enumerate() {
        out.push(entry(
            &format!("project/source-{i}.toml"),
            format!("# {}\n{}", s.label, s.text),
        ));
    }
    for (name, rel) in [
        ("project/env", ".env".to_string()),
        (
            "project/manifest.json",
            format!("{STATE_DIR}/manifest.json"),
        ),
        ("project/onramp.lock", crate::lock::FILE.to_string()),
    ] {
        if let Ok(Some(text)) = root.read_text(&rel) {
            out.push(entry(name, text));
        }
    }
    if let Some(text) = project
        .compose
        .as_deref()
        .and_then(crate::fsx::read_text_file)
    {
        out.push(entry("project/compose.yml", text));
    }
    // The compose files onramp generated (the profile's services as Compose reads them).
    for f in project
        .profile
        .files
        .iter()
        .filter(|f| f.path.ends_with(".yml") || f.path.ends_with(".yaml"))
    {
        if let Ok(Some(text)) = root.read_text(&f.path) {
            let name = f.path.replace(['/', '\\'], "_");
            out.push(entry(&format!("project/generated/{name}"), text));
        }
    }
    out
}

fn versions(plat: &Platform, verify: &Value) -> String {
    let mut lines = vec![
        format!(
            "onramp {} (commit {}, target {})",
            env!("CARGO_PKG_VERSION"),
            env!("ONRAMP_BUILD_COMMIT"),
            env!("ONRAMP_BUILD_TARGET")
        ),
        format!(
            "platform {} {}{}",
            plat.kind.as_str(),
            plat.arch,
            plat.distro
                .as_deref()
                .map(|d| format!(", {d}"))
                .unwrap_or_default()
        ),
    ];
    if let Some(e) = verify.get("engine").filter(|e| !e.is_null()) {
        lines.push(format!(
            "engine {} {} (API {}, {})",
            e["product"].as_str().unwrap_or(""),
            e["version"].as_str().unwrap_or(""),
            e["api_version"].as_str().unwrap_or(""),
            e["platform"].as_str().unwrap_or("")
        ));
    }
    if let Some(py) = verify.get("python").and_then(Value::as_array) {
        lines.push(format!(
            "python {} ({})",
            py.first().and_then(Value::as_str).unwrap_or(""),
            py.get(1).and_then(Value::as_str).unwrap_or("")
        ));
    }
    for p in verify
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        lines.push(format!(
            "package {} {}",
            p["name"].as_str().unwrap_or(""),
            p["version"].as_str().unwrap_or("")
        ));
    }
    lines.join("\n") + "\n"
}

/// What each file of the archive is.
fn index(entries: &[Entry]) -> String {
    let mut text = String::from(
        "onramp report: one archive for support. Every secret is masked as ***.\n\
         verdict.txt     known problems found, each with its fix\n\
         doctor.json     platform and requirement checks\n\
         plan.json       the installer's plan for this machine (shown, not applied)\n\
         verify.json     this machine against onramp.lock and the profile\n\
         engine/         the engine's version and info\n\
         containers.json the project's containers, their states and settings\n\
         containers/     each container's log tail\n\
         onramp-logs/    onramp's own logs (.onramp/logs)\n\
         platform/       detection evidence, os-release, kernel, WSL settings\n\
         project/        the resolved profile, its files, .env, compose files, manifest, lock\n\
         versions.txt    onramp, engine, Python and package versions\n\nFiles:\n",
    );
    for e in entries {
        text.push_str(&format!("  {}\n", e.name));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_carry_the_utc_date_and_time() {
        assert_eq!(default_name(0), "onramp-report-19700101-000000.tar.gz");
        assert_eq!(
            default_name(1_795_996_800 + 3_723),
            "onramp-report-20261130-010203.tar.gz"
        );
        assert_eq!(civil(19_782), (2024, 2, 29));
    }

    #[test]
    fn the_archive_holds_every_entry_masked() {
        secrets::register("report-unit-secret-1");
        let entries = vec![
            entry(
                "a.txt",
                "token report-unit-secret-1 here\nPASSWORD=abc123xyz\n",
            ),
            entry("b/c.log", "plain\n"),
        ];
        let bytes = archive(&entries, 1_700_000_000).unwrap();
        let gz = flate2::read::GzDecoder::new(&bytes[..]);
        let mut ar = tar::Archive::new(gz);
        let mut seen = Vec::new();
        for f in ar.entries().unwrap() {
            let mut f = f.unwrap();
            let name = f.path().unwrap().display().to_string();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut f, &mut text).unwrap();
            assert!(!text.contains("report-unit-secret-1"), "{text}");
            assert!(!text.contains("abc123xyz"), "{text}");
            seen.push(name);
        }
        assert_eq!(seen, ["onramp-report/a.txt", "onramp-report/b/c.log"]);
    }

    #[test]
    fn yaml_and_env_lines_register_their_secrets() {
        register_lines(
            "services:\n  db:\n    environment:\n      - DB_PASSWORD=yaml-list-secret-9\n      API_TOKEN: \"yaml-map-secret-9\"\n",
        );
        let masked = secrets::mask_text("saw yaml-list-secret-9 and yaml-map-secret-9");
        assert_eq!(masked, "saw *** and ***");
    }
}
