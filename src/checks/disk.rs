//! Free disk on the volume holding the project and, for a local engine, Docker's data root.

use std::path::{Path, PathBuf};

use sysinfo::{DiskRefreshKind, Disks};

use super::{Ctx, Outcome, Status, judge, wanted};
use crate::resources::gib;

pub async fn check(ctx: &Ctx) -> Vec<Outcome> {
    let t = ctx.profile.requirements.disk_free_gib;
    let Ok(disks) =
        Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing().with_storage())
    else {
        return vec![Outcome::new(
            "disk",
            Status::Skip,
            "cannot list mounted volumes",
        )];
    };
    let mut out = vec![one(ctx, &disks, "disk", &ctx.dir, "project", t)];
    let local_engine = ctx
        .engine()
        .endpoint
        .as_ref()
        .is_some_and(|e| e.unix_path().is_some());
    if let Some(root) = ctx.engine_info().and_then(|i| i.root_dir.clone())
        && local_engine
        && Path::new(&root).exists()
    {
        out.push(one(
            ctx,
            &disks,
            "disk-docker",
            Path::new(&root),
            "Docker data root",
            t,
        ));
    }
    out
}

fn one(
    ctx: &Ctx,
    disks: &Disks,
    id: &str,
    path: &Path,
    what: &str,
    t: Option<crate::profile::Threshold>,
) -> Outcome {
    // Windows' canonical form is a verbatim `\\?\C:\...` path, which no volume root matches.
    let path = crate::host::plain_path(&path.canonicalize().unwrap_or_else(|_| path.to_path_buf()));
    let found = ctx
        .host
        .volume_free(&path)
        .or_else(|| free_space(disks, &path));
    let Some((mount, free)) = found else {
        return Outcome::new(
            id,
            Status::Skip,
            format!("no mounted volume found for {}", path.display()),
        );
    };
    let value = gib(free);
    let status = judge(value, t);
    let detail = format!(
        "{value:.1} GiB free on {} ({what} {}; {})",
        mount.display(),
        path.display(),
        wanted(t, " GiB")
    );
    let mut o = Outcome::new(id, status, detail);
    if status != Status::Pass {
        o = o.remedy(format!(
            "free space on {} (`docker system prune` removes unused images and build cache)",
            mount.display()
        ));
    }
    o
}

/// The volume whose mount point is the longest prefix of `path`.
fn free_space(disks: &Disks, path: &Path) -> Option<(PathBuf, u64)> {
    disks
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| (d.mount_point().to_path_buf(), d.available_space()))
}
