//! Compose naming: project, container, network and volume names, the labels Compose reads,
//! and the config hash as Compose v2 computes it. A leaf: it imports nothing of onramp's.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Where onramp keeps its state in the project.
pub const STATE_DIR: &str = ".onramp";

pub const LABEL_PROJECT: &str = "com.docker.compose.project";
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
pub const LABEL_HASH: &str = "dev.onramp.config-hash";
pub const LABEL_COMPOSE_HASH: &str = "com.docker.compose.config-hash";
/// The id of the image a container was created from; Compose v2 recreates a container whose
/// label differs from the id of the local image.
pub const LABEL_IMAGE: &str = "com.docker.compose.image";
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
pub const LABEL_VERSION: &str = "com.docker.compose.version";
pub const LABEL_WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const LABEL_CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const LABEL_DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const LABEL_NETWORK: &str = "com.docker.compose.network";
pub const LABEL_VOLUME: &str = "com.docker.compose.volume";
/// The label of the profile a generated service came from (in the compose file and on
/// containers alike).
pub const LABEL_PROFILE: &str = "dev.onramp.profile";
/// The Compose version onramp's labels claim: Compose v1 refuses containers without one and
/// treats those older than 1.21 as needing a rename.
pub const COMPOSE_VERSION: &str = "2.0.0";
pub const LABEL_ONRAMP: &str = "dev.onramp";

/// Compose's project name: the explicit one, else the directory's name, normalised.
pub fn project_name(explicit: Option<&str>, dir: &Path) -> String {
    let raw = explicit.map(str::to_string).unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    normalise(&raw)
}

/// A project name as Compose normalises one (compose-go's `NormalizeProjectName`: lowercase,
/// keep `[a-z0-9_-]`, drop leading `_` and `-`), valid for every engine object it prefixes.
/// Where that drops a character outside ASCII (`проект`, `项目`, `café`) or leaves nothing
/// (`!!!`), a short hash of the lowercased name is appended, so names that differ stay
/// distinct: unrelated projects never share containers, networks or volumes.
pub fn normalise(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let compose: String = lower
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    let compose = compose.trim_start_matches(['_', '-']);
    if lower.is_ascii() && !compose.is_empty() {
        return compose.to_string();
    }
    let digest = Sha256::digest(lower.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    if compose.is_empty() {
        format!("onramp-{hash}")
    } else {
        format!("{compose}-{hash}")
    }
}

/// Compose v2's name of a service's first container.
pub fn container_name(project: &str, service: &str) -> String {
    format!("{project}-{service}-1")
}

/// Compose v1's name of a service's first container.
pub fn container_name_v1(project: &str, service: &str) -> String {
    format!("{project}_{service}_1")
}

/// The engine name of a project network (`default` -> `<project>_default`).
pub fn network_name(project: &str) -> String {
    project_network(project, "default")
}

pub fn project_network(project: &str, network: &str) -> String {
    format!("{project}_{network}")
}

pub fn volume_name(project: &str, volume: &str) -> String {
    format!("{project}_{volume}")
}

/// The image a service with `build` and no `image` is tagged with (Compose v2's name).
pub fn built_image_name(project: &str, service: &str) -> String {
    format!("{project}-{service}")
}

/// A named volume (`data:/var/lib/x`), as opposed to a bind mount (`./data:/x`, `/abs:/x`).
pub fn named_volume(spec: &str) -> Option<&str> {
    let (src, _) = spec.split_once(':')?;
    let drive_letter = src.len() == 1 && spec.chars().nth(1) == Some(':');
    let path_like = src.starts_with(['.', '/', '~']) || src.contains(['/', '\\']);
    let named = !src.is_empty() && !path_like && !drive_letter;
    named.then_some(src)
}

/// Labels on networks and volumes onramp creates.
pub fn object_labels(project: &str, extra: (&str, &str)) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_PROJECT.to_string(), project.to_string()),
        (extra.0.to_string(), extra.1.to_string()),
        (LABEL_VERSION.to_string(), COMPOSE_VERSION.to_string()),
        (LABEL_ONRAMP.to_string(), "1".to_string()),
    ])
}

/// Where a stack's definition lives, for the labels Compose reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin<'a> {
    pub project: &'a str,
    pub dir: &'a Path,
    /// The Compose file Compose would use for this project.
    pub config_files: String,
    /// The folder of the team's Compose file the services came from, if they did.
    pub compose_dir: Option<std::path::PathBuf>,
    /// The profile's name, labelled on generated services.
    pub profile: String,
    /// The engine's name of the project's default network when the file names it
    /// (`networks: default: name: X`).
    pub default_network: Option<String>,
    /// Engine names of named volumes the file names (`volumes: data: name: X`).
    pub volume_names: std::collections::BTreeMap<String, String>,
    /// Engine names of networks the file names (`name: X`, or the key of an `external` one).
    pub network_names: std::collections::BTreeMap<String, String>,
    /// Services' `container_name`, by service.
    pub container_names: std::collections::BTreeMap<String, String>,
}

/// The file onramp generates for the profile's services.
pub const GENERATED_COMPOSE: &str = "docker-compose.test.yml";

impl<'a> Origin<'a> {
    /// The generated compose file in the project, or the Compose file the profile names.
    pub fn new(project: &'a str, dir: &'a Path, compose: Option<&Path>) -> Origin<'a> {
        let file = compose
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join(GENERATED_COMPOSE));
        Origin {
            project,
            dir,
            config_files: file.display().to_string(),
            compose_dir: compose.map(|c| {
                c.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| dir.to_path_buf(), Path::to_path_buf)
            }),
            profile: String::new(),
            default_network: None,
            volume_names: std::collections::BTreeMap::new(),
            network_names: std::collections::BTreeMap::new(),
            container_names: std::collections::BTreeMap::new(),
        }
    }

    /// The name of a service's container: its `container_name`, else Compose's
    /// `<project>-<service>-1`.
    pub fn container_of(&self, service: &str) -> String {
        self.container_names
            .get(service)
            .cloned()
            .unwrap_or_else(|| container_name(self.project, service))
    }

    /// The engine's name of the project's default network.
    pub fn network(&self) -> String {
        self.default_network
            .clone()
            .unwrap_or_else(|| network_name(self.project))
    }

    /// The engine's name of one of the project's networks, by its key in the file.
    pub fn network_of(&self, network: &str) -> String {
        match self.network_names.get(network) {
            Some(n) => n.clone(),
            None if network == "default" => self.network(),
            None => project_network(self.project, network),
        }
    }

    /// The engine's name of a named volume of the project.
    pub fn volume(&self, volume: &str) -> String {
        self.volume_names
            .get(volume)
            .cloned()
            .unwrap_or_else(|| volume_name(self.project, volume))
    }

    /// The same, naming the profile whose services these are.
    pub fn with_profile(mut self, profile: &str) -> Origin<'a> {
        self.profile = profile.to_string();
        self
    }
}

pub fn sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A JSON value as Go's `encoding/json` writes it: object members in the order given (struct
/// field order; the caller sorts map keys), strings with Go's escaping.
#[derive(Debug, Clone, PartialEq)]
pub enum GoJson {
    Null,
    Bool(bool),
    /// A number already in Go's spelling (integers; floats through [`go_float32`]).
    Num(String),
    Str(String),
    Arr(Vec<GoJson>),
    Obj(Vec<(String, GoJson)>),
}

impl GoJson {
    pub fn str(s: &str) -> GoJson {
        GoJson::Str(s.to_string())
    }

    pub fn int(n: impl Into<i128>) -> GoJson {
        GoJson::Num(n.into().to_string())
    }

    pub fn strs(items: &[String]) -> GoJson {
        GoJson::Arr(items.iter().map(|s| GoJson::str(s)).collect())
    }

    /// A Go `map[string]string`: keys sorted.
    pub fn map(m: &BTreeMap<String, String>) -> GoJson {
        GoJson::Obj(m.iter().map(|(k, v)| (k.clone(), GoJson::str(v))).collect())
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            GoJson::Null => out.push_str("null"),
            GoJson::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            GoJson::Num(n) => out.push_str(n),
            GoJson::Str(s) => go_string(s, out),
            GoJson::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            GoJson::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go_string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A string as Go's `encoding/json` quotes it (HTML-safe: `<`, `>`, `&` escaped, and the
/// line and paragraph separators).
fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A Go `float32` as `encoding/json` writes it (shortest form that reads back; exponent form
/// outside 1e-6..1e21).
pub fn go_float32(f: f32) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go writes e.g. 1e+21 / 1e-07: a two-digit exponent at least.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    format!("{f}")
}

/// A duration as Go's `time.Duration.String()` spells it (`5s`, `1m30s`, `1.5s`, `500ms`,
/// `1h0m0s`).
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        format!("{}{unit}", fraction(u, div))
    } else {
        let secs = u / 1_000_000_000;
        let frac = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        let s = fraction(s * 1_000_000_000 + frac, 1_000_000_000);
        if h > 0 {
            format!("{h}h{m}m{s}s")
        } else if m > 0 {
            format!("{m}m{s}s")
        } else {
            format!("{s}s")
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// `value / div` with the fraction's trailing zeros dropped.
fn fraction(value: u64, div: u64) -> String {
    let whole = value / div;
    let rest = value % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The config hash Compose v2 writes on a container: SHA-256 of the service's configuration as
/// Go marshals it (build, pull policy, scale and replicas removed by the caller).
pub fn config_hash(service: &GoJson) -> String {
    sha256(&service.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_normalised_like_compose() {
        assert_eq!(project_name(None, Path::new("/x/My Project")), "myproject");
        assert_eq!(project_name(None, Path::new("/x/_tmp.Ab")), "tmpab");
        assert_eq!(project_name(Some("Horme"), Path::new("/x/y")), "horme");
        // Go's strings.ToLower maps the Kelvin sign to `k`, as Rust's to_lowercase does.
        assert_eq!(normalise("\u{212a}8s"), "k8s");
    }

    /// Compose's rule for a valid project name.
    fn valid(name: &str) -> bool {
        name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    }

    #[test]
    fn names_that_normalising_would_lose_stay_distinct_and_valid() {
        let raws = [
            "проект",
            "项目",
            "!!!",
            "???",
            "тест",
            "",
            "café",
            "cafe",
            "caf",
        ];
        let names: Vec<String> = raws.iter().map(|r| normalise(r)).collect();
        for (raw, name) in raws.iter().zip(&names) {
            assert!(valid(name), "{raw:?} -> {name:?}");
            assert_eq!(&normalise(raw), name, "stable");
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(names[6].starts_with("caf-") && names[7] == "cafe" && names[8] == "caf");
        assert_eq!(normalise("ПРОЕКТ"), names[0], "case folds as in Compose");
        assert_eq!(project_name(Some("тест"), Path::new("/x/y")), names[4]);
    }

    proptest::proptest! {
        #[test]
        fn every_name_is_valid_and_different_names_stay_apart(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            let (na, nb) = (normalise(&a), normalise(&b));
            proptest::prop_assert!(valid(&na), "{:?} -> {:?}", a, na);
            if a.to_lowercase() != b.to_lowercase() && (!a.is_ascii() || !b.is_ascii()) {
                proptest::prop_assert_ne!(na, nb);
            }
        }
    }

    #[test]
    fn objects_are_named_as_compose_names_them() {
        assert_eq!(container_name("p", "db"), "p-db-1");
        assert_eq!(container_name_v1("p", "db"), "p_db_1");
        assert_eq!(network_name("p"), "p_default");
        assert_eq!(volume_name("p", "data"), "p_data");
        assert_eq!(built_image_name("p", "app"), "p-app");
    }

    #[test]
    fn named_volumes_and_bind_mounts() {
        assert_eq!(
            named_volume("pg_data:/var/lib/postgresql/data"),
            Some("pg_data")
        );
        assert_eq!(named_volume("./data:/data"), None);
        assert_eq!(named_volume("/srv/data:/data"), None);
        assert_eq!(named_volume("C:\\data:/data"), None);
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let v = GoJson::Obj(vec![
            ("a".into(), GoJson::str("<b>&\"x\"\n\u{1}\u{2028}é")),
            ("n".into(), GoJson::Null),
        ]);
        assert_eq!(
            v.encode(),
            r#"{"a":"\u003cb\u003e\u0026\"x\"\n\u0001\u2028é","n":null}"#
        );
    }

    #[test]
    fn floats_and_durations_are_spelled_as_go_spells_them() {
        assert_eq!(go_float32(1.5), "1.5");
        assert_eq!(go_float32(0.1), "0.1");
        assert_eq!(go_float32(2.0), "2");
        assert_eq!(go_float32(1e21), "1e+21");
        assert_eq!(go_duration(5_000_000_000), "5s");
        assert_eq!(go_duration(60_000_000_000), "1m0s");
        assert_eq!(go_duration(90_500_000_000), "1m30.5s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(0), "0s");
    }
}
