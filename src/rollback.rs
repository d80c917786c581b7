//! Undoing one failed run: the engine objects it created, the files it replaced, and the
//! project's `.onramp/` when the run made it.

use crate::engine::{self, Connected};
use crate::generate;
use crate::host::Host;
use crate::project::Project;
use crate::stack::up::Created;

/// What a run made, to remove again.
pub struct Undo<'a> {
    pub created: &'a Created,
    pub generated: Option<&'a generate::run::Run>,
    /// Whether `.onramp/` was there before the run.
    pub state_existed: bool,
}

impl Undo<'_> {
    /// Remove it all; returns what was removed or restored, in words. Without an engine at
    /// hand one is connected only when there are objects to remove.
    pub async fn run(
        &self,
        host: &Host,
        project: &Project,
        engine: Option<Connected>,
    ) -> Vec<String> {
        let engine = match engine {
            Some(e) => Some(e),
            None if self.created.is_empty() => None,
            None => engine::connect_ready(host).await.ok(),
        };
        let mut undone = match &engine {
            Some(e) => self.created.roll_back(&e.api).await,
            None => Vec::new(),
        };
        if let Some(g) = self.generated {
            undone.extend(generate::roll_back(
                host,
                &project.dir,
                &g.plans,
                g.manifest_before.as_deref(),
            ));
        }
        if !self.state_existed {
            let _ = crate::fsx::Root::new(&project.dir).remove_tree(crate::project::STATE_DIR);
        }
        undone
    }
}
