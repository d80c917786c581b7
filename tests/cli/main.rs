//! Integration tests: the real `onramp` binary, real files, real processes.

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
