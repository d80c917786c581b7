//! WSL: the facts (from Windows, or from inside a WSL2 distro), the parsers of what wsl.exe and
//! netsh print, the INI files WSL reads and their edits, and the ids of the guardian's checks.
//! The guardian's plan steps and the migration's plan are the installer's (`install::guard`,
//! `install::migrate`).

pub mod dns;
pub mod facts;
pub mod ini;
pub mod parse;

use std::path::Path;

pub use facts::WslFacts;

/// The guardian's check ids, in report order.
pub const CHECKS: &[&str] = &[
    "wsl-dns",
    "wsl-network",
    "wsl-clock",
    "wsl-memory",
    "wsl-drive",
    "wsl-ports",
    "wsl-desktop",
];

/// The step that restarts WSL after its configuration changed.
pub const RESTART: &str = "wsl-restart";

/// The doctor checks a guardian step answers (`None`: not a guardian step).
pub fn answers(step: &str) -> Option<&'static [&'static str]> {
    match step {
        RESTART => Some(&["wsl-dns", "wsl-network", "wsl-memory"]),
        "desktop-integration" => Some(&["docker", "wsl-desktop"]),
        s => CHECKS
            .iter()
            .position(|c| *c == s)
            .map(|i| std::slice::from_ref(&CHECKS[i])),
    }
}

/// Set `settings` in a user's INI file outside the project (`.wslconfig`), keeping every other
/// line: the original is first copied to `backup` unless something is already there (the first
/// original is the one kept; a file there is never replaced), then the new text replaces the
/// file atomically. A missing file is created.
pub fn edit_file(path: &Path, settings: &[ini::Setting], backup: &str) -> Result<(), String> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(format!("{} is not a file path", path.display()));
    };
    let root = crate::fsx::Root::new(dir);
    let original = root
        .read_text(name)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if let Some(text) = &original {
        let backup_name = Path::new(backup)
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{backup} is not a file path"))?;
        root.create_new(backup_name, text.as_bytes(), 0o644)
            .map_err(|e| format!("cannot keep the original as {backup}: {e}"))?;
    }
    let new = ini::set(original.as_deref().unwrap_or(""), settings);
    root.write(name, new.as_bytes(), 0o644)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_keeps_the_first_original_and_the_users_lines() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(".wslconfig");
        let backup = format!("{}.before-onramp", path.display());
        std::fs::write(&path, "# mine\n[wsl2]\nswap=0\n").unwrap();
        let s = [ini::Setting::new("wsl2", "memory", "16GB")];
        edit_file(&path, &s, &backup).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# mine\n[wsl2]\nswap=0\nmemory=16GB\n"
        );
        assert_eq!(
            std::fs::read_to_string(&backup).unwrap(),
            "# mine\n[wsl2]\nswap=0\n"
        );
        let s2 = [ini::Setting::new("wsl2", "processors", "4")];
        edit_file(&path, &s2, &backup).unwrap();
        assert_eq!(
            std::fs::read_to_string(&backup).unwrap(),
            "# mine\n[wsl2]\nswap=0\n",
            "the first original stays"
        );
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .ends_with("memory=16GB\nprocessors=4\n")
        );
    }

    #[test]
    fn a_missing_file_is_created_without_a_backup() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join(".wslconfig");
        let backup = format!("{}.before-onramp", path.display());
        edit_file(
            &path,
            &[ini::Setting::new("wsl2", "memory", "8GB")],
            &backup,
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[wsl2]\nmemory=8GB\n"
        );
        assert!(!Path::new(&backup).exists());
    }
}
