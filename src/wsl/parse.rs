//! Parsers for what Windows and WSL print: `wsl.exe -l -v` and `wsl --status` (UTF-16LE, as
//! wsl.exe writes to a pipe), `netsh int ipv4 show excludedportrange`, `reg query` of the Store
//! policy, `/etc/resolv.conf`, Docker Desktop's settings. Pure functions over recorded text.

use serde::{Deserialize, Serialize};

/// Text from a program or a recording: UTF-16LE (with or without its BOM, as wsl.exe prints
/// unless `WSL_UTF8=1`) or UTF-8. Line ends come back as `\n`.
pub fn decode(bytes: &[u8]) -> String {
    let (body, utf16) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (rest, true),
        _ => (bytes, looks_utf16le(bytes)),
    };
    let text = if utf16 {
        let units: Vec<u16> = body
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    normalise(&text)
}

/// Text a program printed that was already read as (lossy) UTF-8: a UTF-16LE stream shows as
/// characters separated by NULs; those and the BOM's remains are dropped.
pub fn decode_lossy(text: &str) -> String {
    if !text.contains('\0') {
        return normalise(text);
    }
    let kept: String = text
        .chars()
        .filter(|c| *c != '\0' && *c != '\u{FFFD}')
        .collect();
    normalise(&kept)
}

/// Half or more of the odd bytes are NUL: ASCII text in UTF-16LE.
fn looks_utf16le(bytes: &[u8]) -> bool {
    let odd = bytes.iter().skip(1).step_by(2);
    let n = bytes.len() / 2;
    n > 0 && odd.filter(|b| **b == 0).count() * 2 >= n
}

/// `\r\r\n` and `\r\n` to `\n`, no BOM.
fn normalise(text: &str) -> String {
    text.trim_start_matches('\u{FEFF}')
        .replace('\r', "")
        .to_string()
}

/// One distribution as `wsl -l -v` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    pub name: String,
    /// `Running`, `Stopped`, `Installing`, `Converting`, ...
    pub state: String,
    /// 1 or 2.
    pub version: u8,
    pub default: bool,
}

/// `wsl -l -v`: a header line (localised), then `[*] NAME STATE VERSION` per distribution.
/// Names have no spaces (WSL refuses them); the header is recognised by having no version
/// number in its last column.
pub fn distros(text: &str) -> Vec<Distro> {
    text.lines()
        .filter_map(|line| {
            let trimmed = line.trim();
            let (default, rest) = match trimmed.strip_prefix('*') {
                Some(r) => (true, r.trim_start()),
                None => (false, trimmed),
            };
            let cols: Vec<&str> = rest.split_whitespace().collect();
            let [name, state, version] = cols.as_slice() else {
                return None;
            };
            let version = version.parse::<u8>().ok().filter(|v| *v == 1 || *v == 2)?;
            Some(Distro {
                name: name.to_string(),
                state: state.to_string(),
                version,
                default,
            })
        })
        .collect()
}

/// What `wsl --status` says (English output; other languages leave the fields empty and the
/// list from `wsl -l -v` decides).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub default_distro: Option<String>,
    pub default_version: Option<u8>,
    /// "The Windows Subsystem for Linux is not installed" (the inbox stub answers this).
    pub not_installed: bool,
}

pub fn status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let (key, value) = match line.split_once(':') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
            None => (String::new(), ""),
        };
        match key.as_str() {
            "default distribution" | "defaultwsldistro" => {
                s.default_distro = Some(value.to_string()).filter(|v| !v.is_empty());
            }
            "default version" | "defaultversion" => s.default_version = value.parse().ok(),
            _ => {}
        }
        let l = line.to_ascii_lowercase();
        if l.contains("subsystem for linux is not installed")
            || l.contains("optional component is not enabled")
        {
            s.not_installed = true;
        }
    }
    s
}

/// A range of TCP ports Windows keeps from every program (`netsh ... excludedportrange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub start: u16,
    pub end: u16,
    /// Marked `*`: an administrator reserved it (it stays after `net stop winnat`).
    pub administered: bool,
}

impl Range {
    pub fn holds(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }
}

/// `netsh int ipv4 show excludedportrange protocol=tcp`: rows of two numbers and an optional
/// `*`; the headings are localised, so only the rows are read.
pub fn excluded_ranges(text: &str) -> Vec<Range> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (nums, star) = match cols.as_slice() {
                [a, b] => ([*a, *b], false),
                [a, b, "*"] => ([*a, *b], true),
                _ => return None,
            };
            let start = nums[0].parse::<u16>().ok()?;
            let end = nums[1].parse::<u16>().ok()?;
            (start <= end).then_some(Range {
                start,
                end,
                administered: star,
            })
        })
        .collect()
}

/// `reg query HKLM\SOFTWARE\Policies\Microsoft\WindowsStore`: a policy that removes the Store
/// (`RemoveWindowsStore`) or turns its apps off (`DisableStoreApps`) set to 1.
pub fn store_blocked(reg_query: &str) -> bool {
    reg_query.lines().any(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        match cols.as_slice() {
            [name, "REG_DWORD", value] => {
                ["RemoveWindowsStore", "DisableStoreApps"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(name))
                    && u32::from_str_radix(value.trim_start_matches("0x"), 16).is_ok_and(|v| v != 0)
            }
            _ => false,
        }
    })
}

/// The WSL address its DNS tunnelling answers on.
pub const DNS_TUNNEL_NAMESERVER: &str = "10.255.255.254";

/// What `/etc/resolv.conf` says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolv {
    pub nameservers: Vec<String>,
    /// WSL wrote it (its generated-file header).
    pub generated_by_wsl: bool,
}

impl Resolv {
    /// DNS tunnelling is on when WSL points the distro at its tunnel address.
    pub fn tunnelling(&self) -> bool {
        self.generated_by_wsl && self.nameservers.iter().any(|n| n == DNS_TUNNEL_NAMESERVER)
    }
}

pub fn resolv(text: &str) -> Resolv {
    Resolv {
        nameservers: text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect(),
        generated_by_wsl: text
            .lines()
            .take(5)
            .any(|l| l.starts_with('#') && l.contains("generated by WSL")),
    }
}

/// Docker Desktop's settings (`settings-store.json`, older `settings.json`): whether it serves
/// `distro` (the default distribution when "enable integration with my default WSL distro" is
/// on, or one of the distributions turned on by name). `None` when the text is not its settings.
pub fn desktop_integrates(settings_json: &str, distro: &str, is_default: bool) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(settings_json).ok()?;
    let key = |k: &str| {
        let capital = format!("{}{}", k[..1].to_ascii_uppercase(), &k[1..]);
        v.get(k).or_else(|| v.get(capital.as_str()))
    };
    let named = key("integratedWslDistros")
        .and_then(|d| d.as_array())
        .is_some_and(|a| a.iter().any(|n| n.as_str() == Some(distro)));
    let default = key("enableIntegrationWithDefaultWslDistro")
        .and_then(|d| d.as_bool())
        .unwrap_or(false);
    if key("integratedWslDistros").is_none()
        && key("enableIntegrationWithDefaultWslDistro").is_none()
    {
        return None;
    }
    Some(named || (default && is_default))
}

/// A clock offset in words: `+2 h 03 min`, `-45 s`.
pub fn offset_words(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "+" };
    let s = ms.unsigned_abs() / 1000;
    match s {
        0 => format!("{sign}{} ms", ms.unsigned_abs()),
        1..=119 => format!("{sign}{}.{} s", s, (ms.unsigned_abs() % 1000) / 100),
        120..=7199 => format!("{sign}{} min {:02} s", s / 60, s % 60),
        _ => format!("{sign}{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text as wsl.exe writes it to a pipe: UTF-16LE, `\r\r\n` line ends (microsoft/WSL#4607,
    /// tailscale/tailscale#3170), no BOM.
    fn as_wsl_exe(text: &str) -> Vec<u8> {
        text.replace('\n', "\r\r\n")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    const LIST: &str = "  NAME                      STATE           VERSION\n* Ubuntu-22.04              Running         2\n  Debian                    Stopped         1\n  docker-desktop            Stopped         2\n  docker-desktop-data       Stopped         2\n";

    #[test]
    fn wsl_list_in_utf16_is_read_with_the_default_marked() {
        let d = distros(&decode(&as_wsl_exe(LIST)));
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].name, "Ubuntu-22.04");
        assert!(d[0].default);
        assert_eq!(d[0].state, "Running");
        assert_eq!((d[1].name.as_str(), d[1].version), ("Debian", 1));
        assert!(!d[1].default);
    }

    #[test]
    fn a_bom_and_utf8_are_both_read() {
        let mut with_bom = vec![0xFF, 0xFE];
        with_bom.extend(as_wsl_exe(LIST));
        assert_eq!(distros(&decode(&with_bom)).len(), 4);
        assert_eq!(distros(&decode(LIST.as_bytes())).len(), 4);
    }

    #[test]
    fn utf16_read_as_lossy_utf8_still_parses() {
        let bytes = as_wsl_exe("Default Distribution: Ubuntu-24.04\nDefault Version: 2\n");
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        let s = status(&decode_lossy(&lossy));
        assert_eq!(s.default_distro.as_deref(), Some("Ubuntu-24.04"));
        assert_eq!(s.default_version, Some(2));
    }

    #[test]
    fn localised_headers_and_non_ascii_text_survive() {
        // A French header with non-ASCII letters: only the rows count.
        let text =
            "  NOM              ÉTAT            VERSION\n* Ubuntu           Arrêté          2\n";
        let d = distros(&decode(&as_wsl_exe(text)));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].state, "Arrêté");
    }

    #[test]
    fn wsl_status_variants() {
        // WSL 2.x (microsoft/WSL#9633), the inbox version with its kernel lines, WSL 2.4.4's
        // regression without the distribution (microsoft/WSL#12302), and the stub.
        let s = status("Default Distribution: openSUSE-Tumbleweed\nDefault Version: 2\n");
        assert_eq!(s.default_distro.as_deref(), Some("openSUSE-Tumbleweed"));
        let s = status(
            "Default Distribution: Ubuntu-20.04\nDefault Version: 2\n\nWindows Subsystem for Linux was last updated on 12/1/2021\nWSL automatic updates are on.\n\nKernel version: 5.10.16\n",
        );
        assert_eq!(s.default_version, Some(2));
        let s = status("Default Version: 1\n");
        assert_eq!((s.default_distro, s.default_version), (None, Some(1)));
        let s = status(
            "The Windows Subsystem for Linux is not installed. You can install by running 'wsl.exe --install'.\nFor more information please visit https://aka.ms/wslinstall\n",
        );
        assert!(s.not_installed);
        assert!(!status("Default Version: 2").not_installed);
    }

    #[test]
    fn netsh_ranges_with_administered_marks_and_localised_headings() {
        let text = "\nProtocol tcp Port Exclusion Ranges\n\nStart Port    End Port\n----------    --------\n        80          80\n      5357        5357\n     50000       50059     *\n\n* - Administered port exclusions.\n\n";
        let r = excluded_ranges(text);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r[2],
            Range {
                start: 50000,
                end: 50059,
                administered: true
            }
        );
        assert!(r[1].holds(5357) && !r[1].holds(5358));
        let es = "Puerto de inicio    Puerto final\n----------          --------\n      1025        1124\n      5357        5357\n";
        assert_eq!(excluded_ranges(es).len(), 2);
        assert!(excluded_ranges("70000 70001\n9 1\n").is_empty());
    }

    #[test]
    fn store_policy() {
        let on = "\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\WindowsStore\n    RemoveWindowsStore    REG_DWORD    0x1\n\n";
        assert!(store_blocked(on));
        assert!(!store_blocked(&on.replace("0x1", "0x0")));
        assert!(!store_blocked(
            "ERROR: The system was unable to find the specified registry key or value.\n"
        ));
        assert!(store_blocked("    DisableStoreApps    REG_DWORD    0x1\n"));
    }

    #[test]
    fn resolv_conf_variants() {
        let wsl = "# This file was automatically generated by WSL. To stop automatic generation of this file, add the following entry to /etc/wsl.conf:\n# [network]\n# generateResolvConf = false\nnameserver 10.255.255.254\nsearch corp.example\n";
        let r = resolv(wsl);
        assert!(r.generated_by_wsl && r.tunnelling());
        let nat = resolv(&wsl.replace("10.255.255.254", "172.25.160.1"));
        assert!(nat.generated_by_wsl && !nat.tunnelling());
        assert_eq!(nat.nameservers, vec!["172.25.160.1"]);
        let own = resolv("nameserver 1.1.1.1\nnameserver 9.9.9.9 # second\n");
        assert!(!own.generated_by_wsl);
        assert_eq!(own.nameservers.len(), 2);
    }

    #[test]
    fn desktop_settings() {
        let s = r#"{"integratedWslDistros":["Ubuntu-22.04"],"enableIntegrationWithDefaultWslDistro":false}"#;
        assert_eq!(desktop_integrates(s, "Ubuntu-22.04", false), Some(true));
        assert_eq!(desktop_integrates(s, "Ubuntu-24.04", true), Some(false));
        let d = r#"{"EnableIntegrationWithDefaultWslDistro":true,"IntegratedWslDistros":[]}"#;
        assert_eq!(desktop_integrates(d, "Ubuntu-24.04", true), Some(true));
        assert_eq!(desktop_integrates("{}", "Ubuntu", true), None);
        assert_eq!(desktop_integrates("not json", "Ubuntu", true), None);
    }

    #[test]
    fn offsets_in_words() {
        assert_eq!(offset_words(-45_300), "-45.3 s");
        assert_eq!(offset_words(7_384_000), "+2 h 03 min");
        assert_eq!(offset_words(600_000), "+10 min 00 s");
        assert_eq!(offset_words(-90), "-90 ms");
    }
}
