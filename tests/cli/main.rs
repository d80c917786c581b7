//! Integration tests: the real `onramp` binary, real files, real processes.

mod common;
mod compose;
mod corpus;
mod deps;
mod doctor;
mod generate;
mod hostile;
mod hostile_compose;
mod images;
mod install;
mod install_plans;
mod installer;
mod podman;
mod profiles;
mod refusals;
mod repair;
mod stack;
mod validate;
