//! The one owner of stdout, stderr and colour.
//!
//! With `--json`, stdout carries exactly one JSON document and human output moves to stderr.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use console::Style;

use crate::errors::Error;
use crate::secrets;

/// Whether a JSON document has gone to stdout (so an error adds none).
static JSON_PRINTED: AtomicBool = AtomicBool::new(false);
/// Whether writing to stdout failed (a full disk, a closed pipe): the run must not exit 0.
static WRITE_FAILED: AtomicBool = AtomicBool::new(false);

/// The first failure to write output, if any: `run` turns it into exit 3.
pub fn write_failed() -> bool {
    let flushed = std::io::stdout().lock().flush();
    flushed.is_err() || WRITE_FAILED.load(Ordering::SeqCst)
}

fn note(result: std::io::Result<()>) {
    if result.is_err() {
        WRITE_FAILED.store(true, Ordering::SeqCst);
    }
}

/// Which stream human-readable lines go to and how they look.
#[derive(Debug, Clone)]
pub struct Printer {
    json: bool,
    quiet: bool,
    verbose: u8,
    color: bool,
    terminal: bool,
    /// Accept every prompt (`--yes`, or no terminal).
    yes: bool,
}

/// Colour choice from flags, environment and whether the stream is a terminal.
pub fn color_enabled(no_color_flag: bool, no_color: bool, clicolor_force: bool, tty: bool) -> bool {
    if no_color_flag || no_color {
        return false;
    }
    clicolor_force || tty
}

impl Printer {
    pub fn new(json: bool, quiet: bool, verbose: u8, color_flags: (bool, bool, bool)) -> Printer {
        let terminal = if json {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        let (flag, no_color, force) = color_flags;
        Printer {
            json,
            quiet,
            verbose,
            color: color_enabled(flag, no_color, force, terminal),
            terminal,
            yes: false,
        }
    }

    /// Accept every prompt without asking.
    pub fn with_yes(mut self, yes: bool) -> Printer {
        self.yes = yes;
        self
    }

    /// Ask a yes/no question on the terminal (default yes; with `--json` the question goes to
    /// stderr like all human output). With `--yes` (implied when stdin is not a terminal) or
    /// without a terminal to ask on, the answer is yes without asking.
    pub fn confirm(&self, question: &str) -> bool {
        if self.yes || !self.terminal {
            return true;
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(true)
            .interact()
            .unwrap_or(false)
    }

    /// A printer that shows nothing but errors: for work done on another command's behalf.
    pub fn silent() -> Printer {
        Printer {
            json: true,
            quiet: true,
            verbose: 0,
            color: false,
            terminal: false,
            yes: true,
        }
    }

    /// Whether human output goes to a terminal (spinners, prompts, live progress).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    pub fn json_mode(&self) -> bool {
        self.json
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// Ask a person a yes/no question on the terminal, whatever `--yes` says (for consent
    /// that `--yes` alone does not give); `None` when there is no terminal to ask on, so the
    /// caller decides what silence means.
    pub fn ask(&self, question: &str, default: bool) -> Option<bool> {
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            return None;
        }
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .interact()
            .ok()
    }

    /// A result line: always shown.
    pub fn result(&self, text: &str) {
        self.human_line(text);
    }

    /// A progress or information line: hidden by `-q`.
    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.human_line(text);
        }
    }

    fn human_line(&self, text: &str) {
        let text = secrets::mask_text(text);
        if self.json {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        } else {
            note(writeln!(std::io::stdout().lock(), "{text}"));
        }
    }

    /// The machine-readable document (only with `--json`), secrets masked.
    pub fn json(&self, value: &serde_json::Value) {
        let mut value = value.clone();
        secrets::mask_json(&mut value);
        let mut out = std::io::stdout().lock();
        note(serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::other));
        note(writeln!(out));
        JSON_PRINTED.store(true, Ordering::SeqCst);
    }

    /// A document meant for a file or another program (a completion script): stdout, as is,
    /// whatever `--json` or `-q` say.
    pub fn document(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        note(out.write_all(bytes));
        note(out.flush());
    }

    /// An error with its `help:` line, always on stderr; with `--json` and no document printed
    /// yet, also as the one JSON document on stdout (`ok: false`).
    pub fn error(&self, err: &Error) {
        let message = secrets::mask_text(&err.to_string());
        let help = err.help().map(|h| secrets::mask_text(&h));
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{} {message}", self.paint(Paint::Fail, "error:"));
        if let Some(help) = &help {
            let _ = writeln!(e, "{} {help}", self.paint(Paint::Bold, "help:"));
        }
        if self.json && !JSON_PRINTED.load(Ordering::SeqCst) {
            self.json(&serde_json::json!({
                "ok": false,
                "error": message,
                "help": help,
                "exit_code": err.exit_code(),
            }));
        }
    }

    /// A warning on stderr, never on stdout.
    pub fn warn(&self, text: &str) {
        let _ = writeln!(
            std::io::stderr().lock(),
            "{} {}",
            self.paint(Paint::Warn, "warning:"),
            secrets::mask_text(text)
        );
    }

    /// Colour a piece of text when colour is on.
    pub fn paint(&self, paint: Paint, text: &str) -> String {
        let style = match paint {
            Paint::Pass => Style::new().green(),
            Paint::Warn => Style::new().yellow(),
            Paint::Fail => Style::new().red().bold(),
            Paint::Dim => Style::new().dim(),
            Paint::Bold => Style::new().bold(),
        };
        style.force_styling(self.color).apply_to(text).to_string()
    }
}

/// The few looks onramp uses.
#[derive(Debug, Clone, Copy)]
pub enum Paint {
    Pass,
    Warn,
    Fail,
    Dim,
    Bold,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_force_and_terminal() {
        assert!(!color_enabled(true, false, true, true));
        assert!(!color_enabled(false, true, true, true));
        assert!(color_enabled(false, false, true, false));
        assert!(color_enabled(false, false, false, true));
        assert!(!color_enabled(false, false, false, false));
    }

    #[test]
    fn paint_is_plain_without_colour() {
        let p = Printer {
            json: false,
            quiet: false,
            verbose: 0,
            color: false,
            terminal: false,
            yes: true,
        };
        assert_eq!(p.paint(Paint::Fail, "x"), "x");
        let c = Printer { color: true, ..p };
        assert_ne!(c.paint(Paint::Fail, "x"), "x");
    }
}
