//! Integration tests: the real `onramp` binary, real files, real processes.
//!
//! The Unix suite needs the engine, Python, shells and Unix file semantics; the Windows suite
//! (`windows`) runs `onramp.exe` under Wine (`scripts/windows.sh test`).
// The tests drive onramp from outside: they make fixtures with std::fs and run the binary,
// docker and the clients with std::process, as a user would.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
#[cfg(unix)]
mod compose;
#[cfg(unix)]
mod compose_apply;
#[cfg(unix)]
mod corpus;
#[cfg(unix)]
mod deps;
#[cfg(unix)]
mod doctor;
#[cfg(unix)]
mod generate;
#[cfg(unix)]
mod hostile;
#[cfg(unix)]
mod hostile2;
#[cfg(unix)]
mod hostile_compose;
#[cfg(unix)]
mod images;
#[cfg(unix)]
mod install;
#[cfg(unix)]
mod install_plans;
#[cfg(unix)]
mod installer;
#[cfg(unix)]
mod layers;
#[cfg(unix)]
mod lockfile;
#[cfg(unix)]
mod native;
#[cfg(unix)]
mod net_desktop;
#[cfg(unix)]
mod network;
#[cfg(unix)]
mod network_dir;
#[cfg(unix)]
mod network_hostile;
#[cfg(unix)]
mod network_pip;
#[cfg(unix)]
mod network_podman;
#[cfg(unix)]
mod network_services;
#[cfg(unix)]
mod network_team;
#[cfg(unix)]
mod parity;
#[cfg(unix)]
mod podman;
mod profiles;
#[cfg(unix)]
mod refusals;
#[cfg(unix)]
mod repair;
#[cfg(unix)]
mod stack;
#[cfg(unix)]
mod validate;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
mod windows_net;
#[cfg(unix)]
mod wsl_plans;
