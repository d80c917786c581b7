//! Integration tests: the real `onramp` binary, real files, real processes.

mod common;
mod doctor;
mod generate;
mod podman;
mod profiles;
mod repair;
mod stack;
mod validate;
