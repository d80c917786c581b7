//! Live progress: indicatif bars and spinners on a terminal, one plain line per step elsewhere.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::printer::{Paint, Printer};

/// The progress area of one command.
pub struct Ui {
    multi: Option<MultiProgress>,
    printer: Printer,
}

/// One line of progress: a pull bar or a service spinner.
pub struct Line {
    bar: Option<ProgressBar>,
    multi: Option<MultiProgress>,
    printer: Printer,
    label: String,
}

impl Ui {
    pub fn new(printer: &Printer) -> Ui {
        let live = printer.is_terminal() && !printer.json_mode();
        Ui {
            multi: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            printer: printer.clone(),
        }
    }

    fn line(&self, label: &str, style: ProgressStyle, start: &str) -> Line {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(0));
            b.set_style(style);
            b.set_prefix(label.to_string());
            b.enable_steady_tick(Duration::from_millis(80));
            b
        });
        if bar.is_none() && !start.is_empty() {
            self.printer.info(&format!("{label}: {start}"));
        }
        Line {
            bar,
            multi: self.multi.clone(),
            printer: self.printer.clone(),
            label: label.to_string(),
        }
    }

    /// A byte-progress bar for an image pull.
    pub fn pull(&self, image: &str) -> Line {
        let style = ProgressStyle::with_template(
            "{spinner} pull {prefix} {bar:30} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        self.line(image, style, "pulling")
    }

    /// A spinner for an image build, showing the build's output lines.
    pub fn build(&self, image: &str) -> Line {
        let style = ProgressStyle::with_template("{spinner} build {prefix} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        self.line(image, style, "building")
    }

    /// A spinner for a service becoming ready.
    pub fn service(&self, name: &str) -> Line {
        let style = ProgressStyle::with_template("{spinner} {prefix:12} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        self.line(name, style, "")
    }

    /// A warning above the live lines (on stderr without a terminal).
    pub fn warn(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(crate::secrets::mask_text(&format!("warning: {text}")));
            }
            None => self.printer.warn(text),
        }
    }

    /// A plain note above the live lines.
    pub fn note(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(crate::secrets::mask_text(text));
            }
            None => self.printer.info(text),
        }
    }
}

impl Line {
    pub fn message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(crate::secrets::mask_text(msg));
        }
    }

    pub fn bytes(&self, current: u64, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_position(current);
        }
    }

    /// End the line: `✓ label text` or `✗ label text`, printed once either way.
    pub fn finish(&self, ok: bool, text: &str) {
        let mark = if ok {
            self.printer.paint(Paint::Pass, "✓")
        } else {
            self.printer.paint(Paint::Fail, "✗")
        };
        let line = format!("{mark} {} {text}", self.label);
        match (&self.bar, &self.multi) {
            // Live: print above the bars through indicatif, so redraws do not eat the line.
            (Some(b), Some(m)) => {
                let _ = m.println(crate::secrets::mask_text(&line));
                b.finish_and_clear();
                m.remove(b);
            }
            _ => self.printer.result(&line),
        }
    }
}
