//! Build facts for `onramp --version`: the git commit (or "unknown" outside a checkout, e.g. a
//! source archive) and the target triple.
// A build script runs at build time, outside onramp's Host facade: it asks git directly.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=ONRAMP_BUILD_TARGET={target}");
    println!("cargo:rerun-if-env-changed=ONRAMP_BUILD_COMMIT");
    let commit = std::env::var("ONRAMP_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ONRAMP_BUILD_COMMIT={commit}");
    watch_git();
}

/// Rebuild when HEAD moves: HEAD itself, the branch it points at, and packed refs. Only paths
/// that exist are named (cargo would otherwise rebuild every time).
fn watch_git() {
    let mut paths = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        paths.push(branch);
    }
    for p in paths {
        if let Some(file) = git(&["rev-parse", "--git-path", &p])
            && std::path::Path::new(&file).exists()
        {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
