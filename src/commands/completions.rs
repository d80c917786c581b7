//! `onramp completions SHELL`: the shell completion script for onramp's own command line.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::commands::Verdict;
use crate::errors::Result;
use crate::printer::Printer;

pub fn run(printer: &Printer, shell: Shell) -> Result<Verdict> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "onramp", &mut script);
    printer.document(&script);
    Ok(Verdict::Ready)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_completes_every_subcommand() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "onramp", &mut script);
            let text = String::from_utf8(script).unwrap();
            for sub in ["doctor", "validate", "completions", "profile"] {
                assert!(text.contains(sub), "{shell}: no {sub}");
            }
        }
    }
}
