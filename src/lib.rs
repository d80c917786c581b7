//! onramp: from nothing to a verified Kailash SDK development environment.

pub mod checks;
pub mod cli;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod engine;
pub mod errors;
pub mod escape;
pub mod fsx;
pub mod gate;
pub mod generate;
pub mod host;
pub mod images;
pub mod install;
pub mod lock;
pub mod machine;
pub mod naming;
pub mod netdiag;
pub mod outcome;
pub mod platform;
pub mod ports;
pub mod printer;
pub mod probe;
pub mod profile;
pub mod progress;
pub mod project;
pub mod python;
pub mod report;
pub mod resources;
pub mod rollback;
pub mod sdk;
pub mod secrets;
pub mod spec;
pub mod stack;
pub mod validation;
pub mod verify;
pub mod version;
pub mod wsl;

use std::process::ExitCode;

use clap::Parser;

use crate::errors::{EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_NOT_READY};
use crate::host::Host;
use crate::printer::Printer;

/// Parse arguments, run one command, and map the result to an exit code.
pub fn run() -> ExitCode {
    let host = Host::from_process();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
            if code != 0 && std::env::args().skip(1).any(|a| a == "--json") {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                let usage = errors::Error::Usage(first.trim_start_matches("error: ").to_string());
                Printer::new(true, false, 0, (true, true, false)).error(&usage);
            }
            return ExitCode::from(code);
        }
    };
    let json = cli.global.json;
    let config = match config::resolve(cli, &host) {
        Ok(c) => c,
        Err(e) => {
            Printer::new(json, false, 0, (true, true, false)).error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    let out = &config.output;
    let printer = Printer::new(out.json, out.quiet, out.verbose, out.color).with_yes(out.yes);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&errors::Error::Internal(format!(
                "cannot start the runtime: {e}"
            )));
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    let code = match runtime.block_on(commands::dispatch(&config, &host, &printer)) {
        Ok(commands::Verdict::Ready) => 0,
        Ok(commands::Verdict::NotReady) => EXIT_NOT_READY,
        Err(e) => {
            printer.error(&e);
            e.exit_code()
        }
    };
    if printer::write_failed() {
        printer.error(&errors::Error::Internal(
            "cannot write the output to stdout (disk full or pipe closed)".into(),
        ));
        return ExitCode::from(EXIT_INTERNAL);
    }
    ExitCode::from(code)
}
