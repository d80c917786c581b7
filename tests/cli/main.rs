//! Integration tests: the real `onramp` binary, real files, real processes.

mod common;
mod doctor;
mod generate;
mod install_plans;
mod installer;
mod profiles;
mod stack;
mod validate;
