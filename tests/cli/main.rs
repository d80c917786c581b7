//! Integration tests: the real `onramp` binary, real files, real processes.

mod common;
mod compose;
mod doctor;
mod generate;
mod profiles;
mod stack;
mod validate;
