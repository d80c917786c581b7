//! Integration tests: the real `onramp` binary, real files, real processes.
// The tests drive onramp from outside: they make fixtures with std::fs and run the binary,
// docker and the clients with std::process, as a user would.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
mod compose;
mod deps;
mod doctor;
mod generate;
mod hostile;
mod images;
mod install;
mod install_plans;
mod installer;
mod layers;
mod podman;
mod profiles;
mod refusals;
mod repair;
mod stack;
mod validate;
