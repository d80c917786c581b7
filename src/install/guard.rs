//! The WSL guardian: what breaks most in WSL2 (DNS under a VPN, networking mode against
//! published ports, a drifting clock, no memory cap, a project on a Windows drive, ports
//! Windows reserved, Docker Desktop's integration switched off), judged from the facts. Each
//! finding that is not a pass carries the plan step that fixes it, so doctor's fix line and
//! `doctor --fix` are one thing.

use super::{Action, Desktop, Facts, Probe, State, Step, Wants};
use crate::platform::Kind;
use crate::wsl::facts::{WslFacts, on_windows_drive};
use crate::wsl::ini::Setting;
use crate::wsl::parse;

pub use crate::wsl::{CHECKS, RESTART, answers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Pass,
    Warn,
    Fail,
    Skip,
}

/// One check's verdict, and the step that fixes it when it is not a pass.
#[derive(Debug, Clone)]
pub struct Finding {
    pub id: &'static str,
    pub level: Level,
    pub detail: String,
    pub fix: Option<Step>,
}

impl Finding {
    fn new(id: &'static str, level: Level, detail: impl Into<String>) -> Finding {
        Finding {
            id,
            level,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fix(mut self, s: Step) -> Finding {
        self.fix = Some(s);
        self
    }
}

/// What the guardian judges by.
pub struct Input<'a> {
    pub kind: Kind,
    pub wsl: &'a WslFacts,
    pub desktop: &'a Desktop,
    /// Commands that need root get `sudo -n` in front.
    pub sudo: bool,
    pub home: Option<&'a str>,
    pub dir: &'a str,
    /// Host ports the profile publishes, by service.
    pub ports: &'a [(u16, String)],
    /// (min, recommended) memory in GiB.
    pub memory: (Option<f64>, Option<f64>),
}

impl<'a> Input<'a> {
    pub fn of(f: &'a Facts, w: &'a Wants) -> Input<'a> {
        Input {
            kind: f.kind.unwrap_or(Kind::Linux),
            wsl: &f.wsl,
            desktop: &f.desktop,
            sudo: !(f.is_root() || f.uid.is_none()),
            home: f.home.as_deref(),
            dir: &w.dir,
            ports: &w.ports,
            memory: (w.memory_min_gib, w.memory_gib),
        }
    }
}

/// Every finding, for WSL2 and for Windows with WSL; nothing elsewhere.
pub fn examine(i: &Input) -> Vec<Finding> {
    if !matches!(i.kind, Kind::Wsl2 | Kind::Windows) {
        return Vec::new();
    }
    if i.kind == Kind::Windows && i.wsl.target().is_none_or(|d| d.version != 2) {
        let why = match i.wsl.target() {
            Some(d) => format!("{} is a WSL1 distribution", d.name),
            None => "no WSL2 distribution here (`onramp migrate wsl` makes one)".to_string(),
        };
        return CHECKS
            .iter()
            .map(|id| Finding::new(id, Level::Skip, why.clone()))
            .collect();
    }
    vec![
        dns(i),
        network(i),
        clock(i),
        memory(i),
        drive(i),
        ports(i),
        desktop(i),
    ]
}

/// The guardian's steps for `onramp migrate wsl`, which sizes `.wslconfig` and restarts WSL
/// itself: every step but the memory cap's and the restart.
pub fn migrate_steps(i: &Input) -> Vec<Step> {
    examine(i)
        .into_iter()
        .filter(|x| matches!(x.level, Level::Warn | Level::Fail) && x.id != "wsl-memory")
        .filter_map(|x| x.fix)
        .collect()
}

/// The plan steps for every finding that is not a pass, then the restart they need.
pub fn steps(f: &Facts, w: &Wants) -> Vec<Step> {
    let i = Input::of(f, w);
    let mut out: Vec<Step> = examine(&i)
        .into_iter()
        .filter(|x| matches!(x.level, Level::Warn | Level::Fail))
        .filter_map(|x| x.fix)
        .collect();
    let edits = out
        .iter()
        .any(|s| s.change.iter().any(|a| matches!(a, Action::Edit { .. })));
    if edits {
        out.push(restart(&i));
    }
    out
}

fn step(id: &str, why: impl Into<String>, change: Vec<Action>, verify: Probe) -> Step {
    let manual_only = change.iter().all(|a| matches!(a, Action::Manual { .. }));
    Step {
        id: id.into(),
        why: why.into(),
        state: if manual_only {
            State::Manual
        } else {
            State::Todo
        },
        check: verify.clone(),
        change,
        verify,
        note: None,
    }
}

fn manual(text: impl Into<String>) -> Action {
    Action::Manual { text: text.into() }
}

fn run(argv: &[&str], timeout_secs: u64) -> Action {
    Action::Run {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        timeout_secs,
    }
}

/// Set `.wslconfig` settings: an edit when onramp knows where the file is, else the words.
fn wslconfig_edit(i: &Input, id: &str, why: String, settings: Vec<Setting>) -> Step {
    match &i.wsl.wslconfig_path {
        Some(path) => {
            let backup = format!("{path}.before-onramp");
            step(
                id,
                why,
                vec![Action::Edit {
                    path: path.clone(),
                    settings: settings.clone(),
                    backup,
                }],
                Probe::IniHas {
                    path: path.clone(),
                    settings,
                },
            )
        }
        None => {
            let list: Vec<String> = settings.iter().map(Setting::to_string).collect();
            step(
                id,
                why,
                vec![manual(format!(
                    "in %USERPROFILE%\\.wslconfig on Windows set {}, keeping your other lines",
                    list.join(", ")
                ))],
                Probe::Manual,
            )
        }
    }
}

fn restart(i: &Input) -> Step {
    let text = "WSL reads .wslconfig when its VM starts";
    let mut s = if i.kind == Kind::Windows {
        step(
            RESTART,
            text,
            vec![run(&["wsl.exe", "--shutdown"], 120)],
            Probe::Manual,
        )
    } else {
        step(
            RESTART,
            text,
            vec![manual(
                "from Windows (PowerShell): `wsl.exe --shutdown`, then open the distro again",
            )],
            Probe::Manual,
        )
    };
    s.note = Some(
        "--shutdown stops every distro and Docker Desktop's VM; save work in them first".into(),
    );
    s
}

fn mode(i: &Input) -> String {
    i.wsl
        .networking_mode
        .clone()
        .or_else(|| i.wsl.wslconfig_get("wsl2", "networkingMode"))
        .or_else(|| i.wsl.wslconfig_get("experimental", "networkingMode"))
        .unwrap_or_else(|| "nat".into())
        .to_ascii_lowercase()
}

fn dns(i: &Input) -> Finding {
    const ID: &str = "wsl-dns";
    let Some(resolv) = i.wsl.resolv() else {
        return Finding::new(
            ID,
            Level::Skip,
            "the distro's /etc/resolv.conf was not read",
        );
    };
    let tunnel_cfg = i
        .wsl
        .wslconfig_get("wsl2", "dnsTunneling")
        .or_else(|| i.wsl.wslconfig_get("experimental", "dnsTunneling"));
    let tunnelling =
        resolv.tunnelling() || tunnel_cfg.is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let ns = resolv
        .nameservers
        .first()
        .cloned()
        .unwrap_or_else(|| "(none)".into());
    let how = format!(
        "nameserver {ns}, DNS tunnelling {}{}",
        if tunnelling { "on" } else { "off" },
        if resolv.generated_by_wsl {
            ""
        } else {
            ", resolv.conf written by hand"
        }
    );
    match i.wsl.dns_answers {
        Some(true) => Finding::new(ID, Level::Pass, format!("answers ({how})")),
        None => Finding::new(
            ID,
            Level::Skip,
            format!("not asked from here ({how}); `onramp doctor` inside the distro asks"),
        ),
        Some(false) => {
            let why = format!("DNS: no answer ({how}): names do not resolve (typical under a VPN)");
            let fix = if !resolv.generated_by_wsl {
                step(
                    ID,
                    why.clone(),
                    vec![manual(format!(
                        "/etc/resolv.conf was written by hand (`generateResolvConf = false` in /etc/wsl.conf) and {ns} does not answer: put a nameserver that answers there, or remove that line from /etc/wsl.conf and restart the distro"
                    ))],
                    Probe::Manual,
                )
            } else if tunnelling {
                step(
                    ID,
                    why.clone(),
                    vec![manual(
                        "DNS tunnelling is on and still fails: `wsl.exe --shutdown` from Windows, reconnect the VPN, then open the distro again (a VPN that blocks the tunnel needs its split-DNS setting for WSL)",
                    )],
                    Probe::Manual,
                )
            } else {
                wslconfig_edit(
                    i,
                    ID,
                    why.clone(),
                    vec![Setting::new("wsl2", "dnsTunneling", "true")],
                )
            };
            Finding::new(ID, Level::Fail, why).fix(fix)
        }
    }
}

fn network(i: &Input) -> Finding {
    const ID: &str = "wsl-network";
    if i.wsl.networking_mode.is_none() && i.wsl.wslconfig_path.is_none() {
        return Finding::new(
            ID,
            Level::Skip,
            "the networking mode was not asked (wslinfo, .wslconfig)",
        );
    }
    let m = mode(i);
    let list: Vec<String> = i.ports.iter().map(|(p, s)| format!("{p} ({s})")).collect();
    if i.ports.is_empty() {
        return Finding::new(
            ID,
            Level::Pass,
            format!("{m} networking; the profile publishes no ports"),
        );
    }
    if m == "mirrored" {
        let why = format!(
            "mirrored networking: ports published by containers in the distro ({}) are not reachable from Windows' localhost (microsoft/WSL#10494)",
            list.join(", ")
        );
        let fix = wslconfig_edit(
            i,
            ID,
            why.clone(),
            vec![Setting::new("wsl2", "networkingMode", "nat")],
        );
        return Finding::new(ID, Level::Warn, why).fix(fix);
    }
    let forwarding = i.wsl.wslconfig_get("wsl2", "localhostForwarding");
    if m == "nat"
        && forwarding
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
    {
        let why = format!(
            "NAT with localhostForwarding=false: published ports ({}) do not reach Windows' localhost",
            list.join(", ")
        );
        let fix = wslconfig_edit(
            i,
            ID,
            why.clone(),
            vec![Setting::new("wsl2", "localhostForwarding", "true")],
        );
        return Finding::new(ID, Level::Fail, why).fix(fix);
    }
    Finding::new(
        ID,
        Level::Pass,
        format!(
            "{m} networking: published ports reach Windows' localhost ({})",
            list.join(", ")
        ),
    )
}

/// Beyond this, a skew starts to fail TLS and apt ("Release file ... is not valid yet").
const CLOCK_FAIL_MS: i64 = 60_000;
const CLOCK_WARN_MS: i64 = 5_000;

fn clock(i: &Input) -> Finding {
    const ID: &str = "wsl-clock";
    let Some(off) = i.wsl.clock_offset_ms else {
        return Finding::new(ID, Level::Skip, "the clock was not compared with Windows'");
    };
    let words = format!(
        "the distro's clock is {} from Windows'",
        parse::offset_words(off)
    );
    let level = match off.abs() {
        a if a >= CLOCK_FAIL_MS => Level::Fail,
        a if a >= CLOCK_WARN_MS => Level::Warn,
        _ => return Finding::new(ID, Level::Pass, words),
    };
    let why = format!(
        "{words} (after sleep WSL2's clock lags: TLS fails, apt says \"Release file ... is not valid yet\")"
    );
    let change = if i.kind == Kind::Windows {
        let d = i.wsl.distro.clone().unwrap_or_default();
        Action::Run {
            argv: ["wsl.exe", "-d", &d, "-u", "root", "--", "hwclock", "-s"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            timeout_secs: 60,
        }
    } else if i.sudo {
        run(&["sudo", "-n", "hwclock", "-s"], 60)
    } else {
        run(&["hwclock", "-s"], 60)
    };
    let mut s = step(ID, why.clone(), vec![change], Probe::Manual);
    s.note = Some("hwclock -s sets the distro's clock from the VM's hardware clock, which follows Windows; `wsl --update` brings the fix that keeps it in step".into());
    Finding::new(ID, level, why).fix(s)
}

/// `8` rather than `8.0`; `1.5` stays.
fn gib(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// `8GB`, `8192MB`, `16G`, `1TB` in GiB.
pub fn size_gib(text: &str) -> Option<f64> {
    let t = text.trim().to_ascii_uppercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let n: f64 = t[..split].parse().ok()?;
    let unit = t[split..].trim().trim_end_matches('B');
    let f = match unit {
        "K" => 1.0 / (1024.0 * 1024.0),
        "M" => 1.0 / 1024.0,
        "G" | "" => 1.0,
        "T" => 1024.0,
        _ => return None,
    };
    Some(n * f)
}

fn memory(i: &Input) -> Finding {
    const ID: &str = "wsl-memory";
    let (min, rec) = i.memory;
    if i.wsl.wslconfig_path.is_none() {
        return Finding::new(
            ID,
            Level::Skip,
            "Windows' .wslconfig was not found from here",
        );
    }
    let want = rec.or(min).unwrap_or(8.0).ceil() as u64;
    let cap = i.wsl.wslconfig_get("wsl2", "memory");
    let reclaim = i.wsl.wslconfig_get("experimental", "autoMemoryReclaim");
    let capped = cap.as_deref().and_then(size_gib);
    let (level, why) = match capped {
        None => (
            Level::Warn,
            "no memory cap in .wslconfig: the WSL2 VM grows to half of Windows' memory and gives it back slowly".to_string(),
        ),
        Some(g) if min.is_some_and(|m| g + 1e-9 < m) => (
            Level::Fail,
            format!("the WSL2 VM is capped at {} GiB, below the profile's minimum", gib(g)),
        ),
        Some(g) if rec.is_some_and(|r| g + 1e-9 < r) => (
            Level::Warn,
            format!("the WSL2 VM is capped at {} GiB, below the profile's recommendation", gib(g)),
        ),
        Some(g) => {
            return Finding::new(ID, Level::Pass, format!("the WSL2 VM is capped at {} GiB (autoMemoryReclaim {})", gib(g), reclaim.as_deref().unwrap_or("off")));
        }
    };
    let fix = wslconfig_edit(
        i,
        ID,
        why.clone(),
        vec![
            Setting::new("wsl2", "memory", format!("{want}GB")),
            Setting::new("experimental", "autoMemoryReclaim", "gradual"),
        ],
    );
    Finding::new(ID, level, why).fix(fix)
}

fn drive(i: &Input) -> Finding {
    const ID: &str = "wsl-drive";
    if i.kind == Kind::Windows {
        return Finding::new(
            ID,
            Level::Skip,
            "the project is on Windows; `onramp migrate wsl` puts a copy into the distro's home",
        );
    }
    if !on_windows_drive(i.dir) {
        return Finding::new(
            ID,
            Level::Pass,
            format!("{} is on the distro's own disk", i.dir),
        );
    }
    let why = format!(
        "{} is on a Windows drive: every file access crosses 9P (several times slower) and file watchers miss changes",
        i.dir
    );
    let name = i
        .dir
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("project");
    let home = i.home.unwrap_or("~");
    let target = format!("{}/{name}", home.trim_end_matches('/'));
    let copy: Vec<String> = match &i.wsl.git_remote {
        Some(r) => vec!["git".into(), "clone".into(), r.clone(), target.clone()],
        // The project's files without its Windows-side venv and state, as migrate copies.
        None => vec![
            "sh".into(),
            "-c".into(),
            "mkdir -p \"$2\" && tar -C \"$1\" --exclude=./.venv --exclude=./.onramp -cf - . | tar -C \"$2\" -xf -".into(),
            "sh".into(),
            i.dir.into(),
            target.clone(),
        ],
    };
    let mut s = step(
        ID,
        why.clone(),
        vec![
            Action::Run {
                argv: copy,
                timeout_secs: 900,
            },
            manual(format!(
                "work in {target} from now on (`cd {}`); nothing on the Windows drive is removed",
                crate::escape::shell(&target)
            )),
        ],
        Probe::Command {
            argv: vec!["test".into(), "-d".into(), target.clone()],
        },
    );
    s.state = State::Todo;
    Finding::new(ID, Level::Warn, why).fix(s)
}

fn ports(i: &Input) -> Finding {
    const ID: &str = "wsl-ports";
    if !i.wsl.excluded_asked {
        return Finding::new(
            ID,
            Level::Skip,
            "Windows' reserved port ranges were not asked (netsh)",
        );
    }
    let clashes: Vec<(u16, &String, parse::Range)> = i
        .ports
        .iter()
        .filter_map(|(p, s)| {
            i.wsl
                .excluded
                .iter()
                .find(|r| r.holds(*p))
                .map(|r| (*p, s, *r))
        })
        .collect();
    if clashes.is_empty() {
        return Finding::new(
            ID,
            Level::Pass,
            format!(
                "no published port is in Windows' {} reserved range(s)",
                i.wsl.excluded.len()
            ),
        );
    }
    let words: Vec<String> = clashes
        .iter()
        .map(|(p, s, r)| {
            format!(
                "{p} ({s}) in {}-{}{}",
                r.start,
                r.end,
                if r.administered {
                    " (administered)"
                } else {
                    ""
                }
            )
        })
        .collect();
    let why = format!(
        "Windows reserved ports the profile publishes: {}; binding fails with nothing listening",
        words.join(", ")
    );
    let mut change = Vec::new();
    if clashes.iter().any(|c| !c.2.administered) {
        change.push(manual("in an administrator PowerShell: `net stop winnat`, then `net start winnat` (Hyper-V and WinNAT take their ranges again, usually elsewhere); then `onramp doctor` again"));
    }
    for (p, s, r) in clashes.iter().filter(|c| c.2.administered) {
        change.push(manual(format!(
            "an administrator reserved {}-{}: publish {s} on a free host port in onramp.toml (`[services.{s}] ports = [\"{}:{p}\"]`)",
            r.start, r.end, free_port(*p, &i.wsl.excluded)
        )));
    }
    Finding::new(ID, Level::Fail, why.clone()).fix(step(ID, why, change, Probe::Manual))
}

/// The nearest port above `p` outside every reserved range (`p + 10000` first, as people
/// write `15432:5432`).
fn free_port(p: u16, ranges: &[parse::Range]) -> u16 {
    let first = p.checked_add(10_000).unwrap_or(p);
    (first..=u16::MAX)
        .chain(1024..first)
        .find(|c| !ranges.iter().any(|r| r.holds(*c)))
        .unwrap_or(first)
}

fn desktop(i: &Input) -> Finding {
    const ID: &str = "wsl-desktop";
    if i.kind == Kind::Wsl2 {
        let d = i.desktop;
        return if d.stub {
            Finding::new(
                ID,
                Level::Fail,
                "Docker Desktop's WSL integration is off for this distro (`docker` is its stub)",
            )
        } else if d.cli_symlink || d.proxy_socket {
            Finding::new(ID, Level::Pass, "Docker Desktop serves this distro")
        } else {
            Finding::new(
                ID,
                Level::Skip,
                "Docker Desktop is not in use in this distro",
            )
        };
    }
    let (Some(settings), Some(distro)) = (&i.wsl.desktop_settings, i.wsl.target()) else {
        return Finding::new(ID, Level::Skip, "Docker Desktop's settings were not found");
    };
    match parse::desktop_integrates(settings, &distro.name, distro.default) {
        None => Finding::new(
            ID,
            Level::Skip,
            "Docker Desktop's settings do not say which distros it serves",
        ),
        Some(true) => Finding::new(
            ID,
            Level::Pass,
            format!("Docker Desktop serves {}", distro.name),
        ),
        Some(false) => {
            let why = format!(
                "Docker Desktop's WSL integration is off for {} (an update can switch it off)",
                distro.name
            );
            let s = step(
                ID,
                why.clone(),
                vec![manual(format!(
                    "Docker Desktop > Settings > Resources > WSL integration: turn {} on, Apply & restart",
                    distro.name
                ))],
                Probe::Manual,
            );
            Finding::new(ID, Level::Fail, why).fix(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_wslconfig_writes_them() {
        assert_eq!(size_gib("8GB"), Some(8.0));
        assert_eq!(size_gib("8192MB"), Some(8.0));
        assert_eq!(size_gib("16g"), Some(16.0));
        assert_eq!(size_gib("4"), Some(4.0));
        assert_eq!(size_gib("lots"), None);
    }

    #[test]
    fn every_guardian_step_answers_its_own_check() {
        for c in CHECKS {
            assert_eq!(answers(c), Some(std::slice::from_ref(c)));
        }
        assert!(answers(RESTART).unwrap().contains(&"wsl-memory"));
        assert_eq!(answers("engine"), None);
    }

    fn inside<'a>(wsl: &'a WslFacts, desktop: &'a Desktop, dir: &'a str) -> Input<'a> {
        Input {
            kind: Kind::Wsl2,
            wsl,
            desktop,
            sudo: true,
            home: Some("/home/dev"),
            dir,
            ports: &[],
            memory: (Some(2.0), Some(4.0)),
        }
    }

    fn find(i: &Input, id: &str) -> Finding {
        examine(i).into_iter().find(|f| f.id == id).unwrap()
    }

    #[test]
    fn a_project_on_a_windows_drive_is_cloned_into_the_home() {
        let wsl = WslFacts {
            git_remote: Some("git@example.invalid:team/horme.git".into()),
            ..WslFacts::default()
        };
        let d = Desktop::default();
        let f = find(&inside(&wsl, &d, "/mnt/c/Users/dev/horme"), "wsl-drive");
        assert_eq!(f.level, Level::Warn);
        let s = f.fix.unwrap();
        assert_eq!(
            s.summary().split(';').next().unwrap(),
            "git clone git@example.invalid:team/horme.git /home/dev/horme"
        );
        let f = find(&inside(&wsl, &d, "/home/dev/horme"), "wsl-drive");
        assert_eq!(f.level, Level::Pass);
        let none = WslFacts::default();
        let f = find(&inside(&none, &d, "/mnt/d/work/x"), "wsl-drive");
        let copy = f.fix.unwrap().summary();
        assert!(copy.contains("--exclude=./.venv"), "{copy}");
        assert!(copy.contains("' sh /mnt/d/work/x /home/dev/x;"), "{copy}");
    }

    #[test]
    fn nat_without_localhost_forwarding_fails_with_published_ports_only() {
        let wsl = WslFacts {
            wslconfig_path: Some("/mnt/c/Users/dev/.wslconfig".into()),
            wslconfig: Some("[wsl2]\nlocalhostForwarding=false\n".into()),
            ..WslFacts::default()
        };
        let d = Desktop::default();
        let ports = [(5432, "postgres".to_string())];
        let mut i = inside(&wsl, &d, "/home/dev/p");
        assert_eq!(find(&i, "wsl-network").level, Level::Pass);
        i.ports = &ports;
        let f = find(&i, "wsl-network");
        assert_eq!(f.level, Level::Fail);
        assert!(
            f.fix
                .unwrap()
                .summary()
                .contains("[wsl2] localhostForwarding=true")
        );
    }

    #[test]
    fn a_memory_cap_below_the_minimum_fails_and_is_raised_to_the_recommendation() {
        let wsl = WslFacts {
            wslconfig_path: Some(r"C:\Users\dev\.wslconfig".into()),
            wslconfig: Some("[wsl2]\nmemory=1536MB\n".into()),
            ..WslFacts::default()
        };
        let d = Desktop::default();
        let f = find(&inside(&wsl, &d, "/home/dev/p"), "wsl-memory");
        assert_eq!(f.level, Level::Fail);
        assert!(f.detail.contains("1.5 GiB"), "{}", f.detail);
        assert!(f.fix.unwrap().summary().contains("[wsl2] memory=4GB"));
    }

    #[test]
    fn a_free_port_skips_reserved_ranges() {
        let r = [parse::Range {
            start: 15400,
            end: 15499,
            administered: true,
        }];
        assert_eq!(free_port(5432, &r), 15500);
        assert_eq!(free_port(80, &[]), 10080);
    }
}
