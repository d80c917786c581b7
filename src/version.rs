//! Versions and requirements such as `>=3.10,<3.14` (Python, Docker API).

use std::cmp::Ordering;
use std::fmt;

/// A dotted version; missing parts compare as zero.
#[derive(Debug, Clone)]
pub struct Version(pub Vec<u64>);

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Version {
    /// Parse the leading dotted digits of `3.11.7`, `3.13.0rc1` or `28.2.2+dfsg`.
    pub fn parse(s: &str) -> Option<Version> {
        let parts: Vec<u64> = s
            .trim()
            .split('.')
            .map_while(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect();
        (!parts.is_empty()).then_some(Version(parts))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.0.len().max(other.0.len());
        (0..n)
            .map(|i| {
                let a = self.0.get(i).copied().unwrap_or(0);
                let b = other.0.get(i).copied().unwrap_or(0);
                a.cmp(&b)
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

/// Comparators joined by commas; all must hold.
/// A version requirement that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReqError(pub String);

impl From<String> for ReqError {
    fn from(s: String) -> ReqError {
        ReqError(s)
    }
}

impl From<&str> for ReqError {
    fn from(s: &str) -> ReqError {
        ReqError(s.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct VersionReq {
    text: String,
    parts: Vec<(Op, Version)>,
}

impl VersionReq {
    pub fn parse(s: &str) -> Result<VersionReq, ReqError> {
        let mut parts = Vec::new();
        for raw in s.split(',').map(str::trim) {
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| raw.strip_prefix(p).map(|r| (*op, r)))
            .ok_or_else(|| format!("`{raw}` has no comparator (>=, >, <=, <, ==, !=)"))?;
            let v = Version::parse(rest)
                .filter(|_| rest.trim().chars().all(|c| c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| format!("`{rest}` is not a version"))?;
            parts.push((op, v));
        }
        Ok(VersionReq {
            text: s.trim().to_string(),
            parts,
        })
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.parts.iter().all(|(op, want)| {
            let o = v.cmp(want);
            match op {
                Op::Ge => o != Ordering::Less,
                Op::Gt => o == Ordering::Greater,
                Op::Le => o != Ordering::Greater,
                Op::Lt => o == Ordering::Less,
                Op::Eq => o == Ordering::Equal,
                Op::Ne => o != Ordering::Equal,
            }
        })
    }
}

impl VersionReq {
    /// The same requirement as a Python expression over `sys.version_info` (missing parts are
    /// zero, as in `matches`): `sys.version_info[:3] >= (3, 10, 0) and ...`.
    pub fn python_condition(&self) -> String {
        if self.parts.is_empty() {
            return "True".into();
        }
        self.parts
            .iter()
            .map(|(op, v)| {
                let op = match op {
                    Op::Ge => ">=",
                    Op::Gt => ">",
                    Op::Le => "<=",
                    Op::Lt => "<",
                    Op::Eq => "==",
                    Op::Ne => "!=",
                };
                let mut n: Vec<String> = v.0.iter().map(u64::to_string).collect();
                n.resize(n.len().max(3), "0".into());
                format!("sys.version_info[:{}] {op} ({})", n.len(), n.join(", "))
            })
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

impl fmt::Display for VersionReq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(v("3.10") > v("3.9.18"));
        assert_eq!(v("3.11"), v("3.11.0"));
        assert_eq!(v("3.13.0rc1"), v("3.13.0"));
        assert!(Version::parse("abc").is_none());
    }

    #[test]
    fn requirements_hold_together() {
        let r = VersionReq::parse(">=3.10, <3.14").unwrap();
        assert!(r.matches(&v("3.11.7")));
        assert!(!r.matches(&v("3.9.18")));
        assert!(!r.matches(&v("3.14.0")));
        assert!(VersionReq::parse("3.10").is_err());
        assert_eq!(
            r.python_condition(),
            "sys.version_info[:3] >= (3, 10, 0) and sys.version_info[:3] < (3, 14, 0)"
        );
        assert!(VersionReq::parse(">=three").is_err());
    }
}
