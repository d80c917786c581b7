//! `onramp images save -o FILE` / `onramp images load FILE`: the profile's images as one archive.

use serde_json::json;

use super::Verdict;
use crate::cli::ImagesCommand;
use crate::config::Config;
use crate::errors::Result;
use crate::host::Host;
use crate::images;
use crate::printer::Printer;
use crate::profile;
use crate::progress::Ui;

pub async fn run(
    config: &Config,
    host: &Host,
    printer: &Printer,
    command: &ImagesCommand,
) -> Result<Verdict> {
    let profile = profile::load(&config.profile)?.profile;
    let needed = images::needed(&profile);
    let engine = super::up::connect(host).await?;
    let ui = Ui::new(printer);
    match command {
        ImagesCommand::Save(args) => {
            let saved = images::save(&engine.api, &needed, &args.output, &ui).await?;
            if config.json {
                printer.json(&json!({"ok": true, "saved": saved}));
            }
            printer.result(&format!(
                "saved {} image(s) to {} ({} MB): {}",
                saved.images.len(),
                saved.path.display(),
                saved.bytes / 1_000_000,
                saved.images.join(", ")
            ));
        }
        ImagesCommand::Load(args) => {
            let loaded = images::load(&engine.api, &args.file, &needed, &ui).await?;
            if config.json {
                printer.json(&json!({"ok": true, "loaded": loaded}));
            }
            printer.result(&format!(
                "loaded {}; every image the profile needs is present: {}",
                loaded.path.display(),
                loaded.images.join(", ")
            ));
        }
    }
    Ok(Verdict::Ready)
}
