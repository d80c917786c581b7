//! Known reasons a service's container will not come up, read from its log, each with the
//! command that repairs it. Nothing here repairs anything by itself.

/// A recognised failure: what is wrong and the remedy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub problem: String,
    pub remedy: String,
}

/// The line PostgreSQL logs when its data directory was made by another major version.
pub const PG_INCOMPATIBLE: &str = "database files are incompatible with server";

/// Read a failed container's log tail for a known cause.
pub fn from_logs(service: &str, logs: &str) -> Option<Diagnosis> {
    if logs.contains(PG_INCOMPATIBLE) {
        let versions = pg_versions(logs)
            .map(|(data, server)| {
                format!(" (initialised by PostgreSQL {data}; this image runs {server})")
            })
            .unwrap_or_default();
        return Some(Diagnosis {
            problem: format!(
                "its data volume was initialised by another PostgreSQL major version{versions}: {PG_INCOMPATIBLE}"
            ),
            remedy: format!(
                "`onramp reset {service}` deletes that volume's data and starts afresh (it asks first; onramp never deletes it by itself); or dump it with the old version's image first"
            ),
        });
    }
    None
}

/// From `The data directory was initialized by PostgreSQL version 14, which is not compatible
/// with this version 15.4.`: ("14", "15.4").
fn pg_versions(logs: &str) -> Option<(String, String)> {
    let line = logs
        .lines()
        .find(|l| l.contains("initialized by PostgreSQL version"))?;
    let after = line.split("initialized by PostgreSQL version ").nth(1)?;
    let data = after.split(',').next()?.trim().to_string();
    let server = line
        .split("with this version ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .trim_end_matches('.')
        .to_string();
    Some((data, server))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log of postgres 15 started on a data directory made by 14 (recorded).
    const LOG: &str = "2026-11-27 03:30:01.123 UTC [1] FATAL:  database files are incompatible with server\n2026-11-27 03:30:01.123 UTC [1] DETAIL:  The data directory was initialized by PostgreSQL version 14, which is not compatible with this version 15.14 (Debian 15.14-0+deb12u1).\n";

    #[test]
    fn another_major_version_names_both_and_the_reset() {
        let d = from_logs("db", LOG).unwrap();
        assert!(d.problem.contains("PostgreSQL 14"), "{}", d.problem);
        assert!(d.problem.contains("runs 15.14"), "{}", d.problem);
        assert!(d.remedy.contains("onramp reset db"), "{}", d.remedy);
        let bare = from_logs(
            "postgres",
            "FATAL:  database files are incompatible with server",
        )
        .unwrap();
        assert!(bare.remedy.contains("onramp reset postgres"));
        assert_eq!(
            from_logs("postgres", "FATAL: the database system is starting up"),
            None
        );
    }
}
