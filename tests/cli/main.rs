//! Integration tests: the real `onramp` binary, real files, real processes.

mod common;
mod doctor;
mod generate;
mod profiles;
mod refusals;
mod stack;
mod validate;
