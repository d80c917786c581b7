//! `onramp migrate wsl`: the plan that moves a Windows project into a WSL2 distro and sets it
//! up there (WSL, the distro and its first user, `.wslconfig` sized from the profile, systemd,
//! onramp of the same release, the project cloned or copied into the distro's home, `onramp
//! setup` inside), pure over the facts; and the state file that lets a second run resume.
//! Nothing on the Windows side is removed.

use serde::{Deserialize, Serialize};

use super::{Action, Plan, Probe, State, Step};
use crate::wsl::facts::{WslFacts, mnt_path};
use crate::wsl::ini::{self, Setting};

/// The distribution used when the profile names none: the current Ubuntu LTS.
pub const DEFAULT_DISTRO: &str = "Ubuntu-24.04";
/// Where onramp writes the release's installer for the distro to run (inside the project).
pub const INSTALLER: &str = ".onramp/install.sh";
/// The installer itself, the same file the release ships.
pub const INSTALL_SH: &str = include_str!("../../scripts/install.sh");
/// The state file of a migration, inside the project.
pub const STATE: &str = ".onramp/migrate-wsl.json";

/// What the migration aims for.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub distro: String,
    pub memory_gib: u64,
    pub processors: Option<u64>,
    /// The project folder on Windows and the name it gets in the distro's home.
    pub windows_dir: String,
    pub name: String,
    /// `--profile` to pass inside, when one was chosen by name.
    pub profile: Option<String>,
    /// onramp's release (installed inside at the same version).
    pub version: String,
    /// Where the installer fetches releases from (`ONRAMP_INSTALL_BASE`), when set.
    pub install_base: Option<String>,
}

/// A migration's progress, kept between runs. Steps recorded here are verified again before
/// they are skipped, never trusted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    pub distro: String,
    /// Step ids done (changed and verified, or found satisfied), in order.
    pub done: Vec<String>,
    /// `.wslconfig` or `wsl.conf` changed and WSL has not restarted since.
    pub restart_pending: bool,
    /// Seconds since the epoch of the last run.
    pub at: u64,
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn run(argv: Vec<String>, timeout_secs: u64) -> Action {
    Action::Run { argv, timeout_secs }
}

fn in_distro(d: &str, rest: &[&str]) -> Vec<String> {
    let mut v = s(&["wsl.exe", "-d", d, "--"]);
    v.extend(s(rest));
    v
}

fn step(id: &str, why: String, done: bool, change: Vec<Action>, probe: Probe) -> Step {
    let manual = change.iter().all(|a| matches!(a, Action::Manual { .. }));
    Step {
        id: id.into(),
        why,
        state: match (done, manual) {
            (true, _) => State::Satisfied,
            (false, true) => State::Manual,
            (false, false) => State::Todo,
        },
        check: probe.clone(),
        change,
        verify: probe,
        note: None,
    }
}

/// The settings `.wslconfig` gets from the profile.
pub fn wslconfig_settings(t: &Target) -> Vec<Setting> {
    let mut v = vec![Setting::new(
        "wsl2",
        "memory",
        format!("{}GB", t.memory_gib),
    )];
    if let Some(p) = t.processors {
        v.push(Setting::new("wsl2", "processors", p.to_string()));
    }
    v.push(Setting::new("experimental", "autoMemoryReclaim", "gradual"));
    v
}

/// Set `[section] key=value` in an INI file in place with sh and awk, keeping every other line;
/// the original copied once to `FILE.before-onramp`. Arguments: FILE SECTION KEY VALUE.
pub const INI_SET_SH: &str = r##"f=$1; sec=$2; opt=$3; val=$4
[ -e "$f.before-onramp" ] || [ ! -e "$f" ] || cp -p "$f" "$f.before-onramp" || exit 1
[ -e "$f" ] || : > "$f" || exit 1
awk -v sec="$sec" -v opt="$opt" -v val="$val" '
function bare(s) { gsub(/[ \t]/, "", s); return tolower(s) }
/^[ \t]*\[/ {
  if (insec && !done) { print opt "=" val; done = 1 }
  h = $0; gsub(/[][ \t]/, "", h); insec = (tolower(h) == tolower(sec)); print; next
}
insec && !done && index($0, "=") > 0 {
  k = substr($0, 1, index($0, "=") - 1)
  if (bare(k) == tolower(opt) && substr(bare($0), 1, 1) != "#") { print opt "=" val; done = 1; next }
}
{ print }
END { if (!done) { if (!insec) { if (NR > 0) print ""; print "[" sec "]" } print opt "=" val } }
' "$f" > "$f.onramp-new" && cat "$f.onramp-new" > "$f" && rm -f "$f.onramp-new""##;

/// The migration's plan for these facts.
pub fn plan(f: &WslFacts, t: &Target, progress: &Progress, guard: Vec<Step>) -> Plan {
    let d = t.distro.as_str();
    let distro = f.distros.iter().find(|x| x.name.eq_ignore_ascii_case(d));
    let web = f.store_blocked;
    let mut steps = Vec::new();

    let mut install = s(&["wsl.exe", "--install", "--no-distribution"]);
    if web {
        install.push("--web-download".into());
    }
    let mut st = step(
        "wsl",
        if f.installed {
            "WSL is installed".into()
        } else {
            "WSL is not installed".into()
        },
        f.installed,
        vec![
            run(install, 1800),
            Action::Manual {
                text: "reboot Windows if the installer asks, then run `onramp migrate wsl` again"
                    .into(),
            },
        ],
        Probe::Command {
            argv: s(&["wsl.exe", "--status"]),
        },
    );
    if web {
        st.note = Some("the Microsoft Store is blocked by policy here: --web-download fetches WSL and the distro without it".into());
    }
    steps.push(st);

    let wsl2 = distro.is_some_and(|x| x.version == 2);
    let change = match distro {
        Some(x) if x.version == 1 => vec![run(s(&["wsl.exe", "--set-version", d, "2"]), 3600)],
        _ => {
            let mut argv = s(&["wsl.exe", "--install", "-d", d, "--no-launch"]);
            if web {
                argv.push("--web-download".into());
            }
            vec![run(argv, 3600)]
        }
    };
    steps.push(step(
        "distro",
        match distro {
            Some(x) if x.version == 2 => format!("{d} is installed as WSL2"),
            Some(_) => format!("{d} is WSL1: it is converted to WSL2 (its files are kept)"),
            None => format!("{d} is not installed"),
        },
        wsl2,
        change,
        Probe::Command {
            argv: in_distro(d, &["grep", "-qi", "wsl2", "/proc/sys/kernel/osrelease"]),
        },
    ));

    let user_ok = wsl2 && f.distro_user.as_deref().is_some_and(|u| u != "root");
    steps.push(step(
        "distro-user",
        if user_ok {
            format!("{d}'s user is {}", f.distro_user.as_deref().unwrap_or_default())
        } else {
            format!("{d} has no user of its own yet")
        },
        user_ok,
        vec![Action::Manual {
            text: format!(
                "open the distro once: `wsl.exe -d {d}`. It asks for a new UNIX user name and password (the distro's own, not your Windows account; the password is for sudo). Then `exit`, and run `onramp migrate wsl` again"
            ),
        }],
        Probe::Command {
            argv: in_distro(d, &["sh", "-c", "test \"$(id -u)\" != 0"]),
        },
    ));

    let settings = wslconfig_settings(t);
    let have = f.wslconfig.as_deref().unwrap_or("");
    let cfg_done = ini::missing(have, &settings).is_empty();
    let cfg_change = match &f.wslconfig_path {
        Some(path) => vec![Action::Edit {
            path: path.clone(),
            settings: settings.clone(),
            backup: format!("{path}.before-onramp"),
        }],
        None => vec![Action::Manual {
            text: format!(
                "in %USERPROFILE%\\.wslconfig set {}",
                settings
                    .iter()
                    .map(Setting::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }],
    };
    let mut st = step(
        "wslconfig",
        format!(
            ".wslconfig sized from the profile: {}",
            settings
                .iter()
                .map(Setting::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        cfg_done,
        cfg_change,
        match &f.wslconfig_path {
            Some(path) => Probe::IniHas {
                path: path.clone(),
                settings,
            },
            None => Probe::Manual,
        },
    );
    st.note =
        Some("your other settings and comments stay; WSL reads the file when its VM starts".into());
    steps.push(st);

    let systemd = f
        .wsl_conf
        .as_deref()
        .and_then(|c| ini::get_bool(c, "boot", "systemd"))
        == Some(true);
    let mut argv = s(&[
        "wsl.exe", "-d", d, "-u", "root", "--", "sh", "-c", INI_SET_SH, "sh",
    ]);
    argv.extend(s(&["/etc/wsl.conf", "boot", "systemd", "true"]));
    let mut st = step(
        "distro-systemd",
        "systemd as the distro's init (`[boot] systemd=true` in /etc/wsl.conf), so the engine starts with it".into(),
        systemd && wsl2,
        vec![run(argv, 120)],
        Probe::Command {
            argv: in_distro(d, &["grep", "-qiE", "^[[:space:]]*systemd[[:space:]]*=[[:space:]]*true", "/etc/wsl.conf"]),
        },
    );
    st.note = Some(
        "the distro's other settings stay; the original is kept as /etc/wsl.conf.before-onramp"
            .into(),
    );
    steps.push(st);

    // What the guardian finds about the distro from here (networking, the clock, reserved
    // ports, Desktop's integration), fixed before the setup inside meets it.
    let guard_edits = guard
        .iter()
        .any(|s| s.change.iter().any(|a| matches!(a, Action::Edit { .. })));
    steps.extend(guard);

    let restart = !(cfg_done && systemd && wsl2) || guard_edits || progress.restart_pending;
    let mut st = step(
        crate::wsl::RESTART,
        "WSL restarts to read .wslconfig and start systemd".into(),
        !restart,
        vec![run(s(&["wsl.exe", "--shutdown"]), 120)],
        Probe::Command {
            argv: in_distro(d, &["test", "-d", "/run/systemd/system"]),
        },
    );
    st.note = Some(
        "--shutdown stops every distro and Docker Desktop's VM; save work in them first".into(),
    );
    steps.push(st);

    let want = format!("onramp {} ", t.version);
    let has_onramp = f
        .distro_onramp
        .as_deref()
        .is_some_and(|v| format!("{v} ").starts_with(&want));
    let mut argv = s(&[
        "wsl.exe",
        "-d",
        d,
        "--cd",
        &t.windows_dir,
        "--",
        "sh",
        INSTALLER,
        "--version",
        &t.version,
    ]);
    if let Some(b) = &t.install_base {
        argv.extend(s(&["--base", b]));
    }
    let mut st = step(
        "onramp",
        format!(
            "onramp {} inside {d} (the same release, through install.sh)",
            t.version
        ),
        has_onramp,
        vec![run(argv, 600)],
        Probe::Command {
            argv: in_distro(
                d,
                &[
                    "sh",
                    "-c",
                    "\"$HOME/.local/bin/onramp\" --version | grep -qF -- \"$1\"",
                    "sh",
                    &want,
                ],
            ),
        },
    );
    st.note = Some(format!(
        "onramp writes the release's installer to {INSTALLER} first; it installs into ~/.local/bin, checking the archive's SHA-256"
    ));
    steps.push(st);

    let (copy, how) = match (&f.git_remote, mnt_path(&t.windows_dir)) {
        (Some(remote), _) => (
            in_distro(
                d,
                &[
                    "sh",
                    "-c",
                    "cd \"$HOME\" && git clone -- \"$1\" \"$2\"",
                    "sh",
                    remote,
                    &t.name,
                ],
            ),
            format!("cloned from {remote}"),
        ),
        (None, Some(from)) => (
            in_distro(
                d,
                &[
                    "sh",
                    "-c",
                    "mkdir -p \"$HOME/$2\" && tar -C \"$1\" --exclude=./.venv --exclude=./.onramp -cf - . | tar -C \"$HOME/$2\" -xf -",
                    "sh",
                    &from,
                    &t.name,
                ],
            ),
            format!("copied from {from} (no git remote; .venv and .onramp left out)"),
        ),
        (None, None) => (
            Vec::new(),
            "cannot be copied: the folder is not on a drive letter".into(),
        ),
    };
    let mut st = step(
        "project",
        format!("the project in {d} at ~/{}, {how}", t.name),
        f.distro_has_project,
        if copy.is_empty() {
            vec![Action::Manual {
                text: format!("copy the project into the distro's home as ~/{}", t.name),
            }]
        } else {
            vec![run(copy, 1800)]
        },
        Probe::Command {
            argv: in_distro(d, &["sh", "-c", "test -d \"$HOME/$1\"", "sh", &t.name]),
        },
    );
    st.note = Some(match &f.git_remote {
        Some(_) => "work not pushed stays on Windows: push it first, or copy it over afterwards. Never work from /mnt/c: it is several times slower".into(),
        None => "never work from /mnt/c: it is several times slower; the Windows folder is left as it is".into(),
    });
    steps.push(st);

    let mut script = "cd \"$HOME/$1\" && exec \"$HOME/.local/bin/onramp\" setup --yes".to_string();
    if t.profile.is_some() {
        script.push_str(" --profile \"$2\"");
    }
    let mut argv = in_distro(d, &["sh", "-c", &script, "sh", &t.name]);
    if let Some(p) = &t.profile {
        argv.push(p.clone());
    }
    steps.push(step(
        "setup",
        format!("`onramp setup` inside {d}, in ~/{}", t.name),
        false,
        vec![run(argv, 3600)],
        Probe::Manual,
    ));

    let home = match f.distro_user.as_deref() {
        Some(u) if u != "root" => format!("/home/{u}/{}", t.name),
        _ => format!("/home/<user>/{}", t.name),
    };
    let mut notes = vec![
        format!(
            "the way in: `code --remote wsl+{d} {home}` (VS Code), or `wsl -d {d} --cd {home}` (a shell)"
        ),
        "nothing on the Windows side is removed".to_string(),
    ];
    if !progress.done.is_empty() {
        notes.insert(
            0,
            format!(
                "resuming: an earlier run finished {} ({}); each is checked again before it is skipped",
                progress.done.len(),
                progress.done.join(", ")
            ),
        );
    }
    Plan {
        platform: "windows".into(),
        family: Some(d.to_string()),
        manager: Some("wsl.exe".into()),
        refused: None,
        steps,
        notes,
    }
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    /// The wsl.conf edit, run by the real sh and awk on a file.
    #[cfg(unix)]
    async fn ini_set_sh(before: Option<&str>) -> (String, Option<String>) {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("wsl.conf");
        if let Some(b) = before {
            std::fs::write(&f, b).unwrap();
        }
        let host = crate::host::Host::from_process();
        let cmd = crate::host::Cmd::new("sh", std::time::Duration::from_secs(10))
            .args(["-c", INI_SET_SH, "sh"])
            .arg(&f)
            .args(["boot", "systemd", "true"]);
        let out = host.run(&cmd).await.unwrap();
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let backup = std::fs::read_to_string(d.path().join("wsl.conf.before-onramp")).ok();
        (std::fs::read_to_string(&f).unwrap(), backup)
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_wsl_conf_edit_keeps_the_distros_settings_as_ini_set_does() {
        for before in [
            "[boot]\nsystemd=false\ncommand = service ssh start\n[network]\nhostname = box\n",
            "# Ubuntu's\n[user]\ndefault=dev\n",
            "[boot]\nSystemd = true\n",
            "[network]\ngenerateResolvConf = false\n[boot]\n",
            "",
        ] {
            let (after, backup) = ini_set_sh(Some(before)).await;
            let want = ini::set(before, &[Setting::new("boot", "systemd", "true")]);
            assert_eq!(
                ini::get_bool(&after, "boot", "systemd"),
                Some(true),
                "{before:?} -> {after:?}"
            );
            assert_eq!(
                ini::get(&after, "network", "hostname"),
                ini::get(before, "network", "hostname")
            );
            assert_eq!(
                after.lines().filter(|l| !l.trim().is_empty()).count(),
                want.lines().filter(|l| !l.trim().is_empty()).count(),
                "{before:?} -> {after:?}"
            );
            assert_eq!(backup.as_deref(), Some(before));
        }
        let (after, backup) = ini_set_sh(None).await;
        assert_eq!(after, "[boot]\nsystemd=true\n");
        assert_eq!(backup, None);
    }

    fn target() -> Target {
        Target {
            distro: DEFAULT_DISTRO.into(),
            memory_gib: 16,
            processors: Some(8),
            windows_dir: r"C:\Users\dev\src\horme".into(),
            name: "horme".into(),
            profile: None,
            version: "0.1.0".into(),
            install_base: None,
        }
    }

    #[test]
    fn a_distro_that_exists_with_its_user_and_settings_leaves_only_onramp_project_and_setup() {
        let f = WslFacts {
            installed: true,
            distros: crate::wsl::parse::distros("* Ubuntu-24.04 Running 2\n"),
            wslconfig_path: Some(r"C:\Users\dev\.wslconfig".into()),
            wslconfig: Some(
                "[wsl2]\nmemory=16GB\nprocessors=8\n[experimental]\nautoMemoryReclaim=gradual\n"
                    .into(),
            ),
            wsl_conf: Some("[boot]\nsystemd=true\n".into()),
            distro_user: Some("dev".into()),
            ..WslFacts::default()
        };
        let p = plan(&f, &target(), &Progress::default(), Vec::new());
        let todo: Vec<&str> = p.todo().map(|s| s.id.as_str()).collect();
        assert_eq!(todo, vec!["onramp", "project", "setup"]);
        assert!(p.notes[0].contains("code --remote wsl+Ubuntu-24.04 /home/dev/horme"));
    }

    #[test]
    fn a_pending_restart_is_kept_across_runs() {
        let f = WslFacts::default();
        let p = plan(
            &f,
            &target(),
            &Progress {
                restart_pending: true,
                ..Progress::default()
            },
            Vec::new(),
        );
        assert!(p.todo().any(|s| s.id == "wsl-restart"));
    }
}
