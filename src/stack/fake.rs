//! An in-process engine for unit tests of `up` and `down` decisions.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::engine::api::{BuildSpec, ContainerInfo, ContainerSpec, Engine, EngineError, PullEvent};

#[derive(Default)]
pub struct State {
    pub images: Vec<String>,
    pub containers: BTreeMap<String, ContainerInfo>,
    pub networks: BTreeMap<String, BTreeMap<String, String>>,
    pub volumes: BTreeMap<String, BTreeMap<String, String>>,
    pub pulls: Vec<String>,
    pub builds: Vec<String>,
    /// Images whose containers fail to start (and whose builds fail).
    pub fail_start: Vec<String>,
    /// `driver_opts` networks and volumes were created with, by name.
    pub driver_opts: BTreeMap<String, BTreeMap<String, String>>,
    /// Containers restarted, by id.
    pub restarts: Vec<String>,
    next_id: u32,
}

#[derive(Default)]
pub struct Fake {
    pub state: Mutex<State>,
}

fn matches(labels: &BTreeMap<String, String>, want: &[(&str, &str)]) -> bool {
    want.iter()
        .all(|(k, v)| labels.get(*k).is_some_and(|have| v.is_empty() || have == v))
}

impl Fake {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("fake engine lock"))
    }
}

impl Engine for Fake {
    async fn image_exists(&self, image: &str) -> Result<bool, EngineError> {
        Ok(self.with(|s| s.images.iter().any(|i| i == image)))
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        Ok(self.with(|s| {
            s.images
                .iter()
                .any(|i| i == image)
                .then(|| format!("sha256:{}", crate::naming::sha256(image)))
        }))
    }

    async fn pull(
        &self,
        image: &str,
        on: &mut (dyn FnMut(PullEvent) + Send),
    ) -> Result<(), EngineError> {
        on(PullEvent::Status("Pulling".into()));
        self.with(|s| {
            s.pulls.push(image.to_string());
            s.images.push(image.to_string());
        });
        Ok(())
    }

    async fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>, EngineError> {
        Ok(self.with(|s| {
            s.containers
                .values()
                .find(|c| c.name == name || c.id == name)
                .cloned()
        }))
    }

    async fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>, EngineError> {
        Ok(self.with(|s| {
            s.containers
                .values()
                .filter(|c| matches(&c.labels, labels))
                .cloned()
                .collect()
        }))
    }

    async fn ensure_network(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver_opts: &BTreeMap<String, String>,
    ) -> Result<bool, EngineError> {
        self.with(|s| {
            if !driver_opts.is_empty() {
                s.driver_opts.insert(name.into(), driver_opts.clone());
            }
        });
        Ok(self.with(|s| s.networks.insert(name.into(), labels.clone()).is_none()))
    }

    async fn ensure_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
        driver_opts: &BTreeMap<String, String>,
    ) -> Result<bool, EngineError> {
        self.with(|s| {
            if !driver_opts.is_empty() {
                s.driver_opts.insert(name.into(), driver_opts.clone());
            }
        });
        Ok(self.with(|s| {
            if s.volumes.contains_key(name) {
                return false;
            }
            s.volumes.insert(name.into(), labels.clone());
            true
        }))
    }

    async fn volume_exists(&self, name: &str) -> Result<bool, EngineError> {
        Ok(self.with(|s| s.volumes.contains_key(name)))
    }

    async fn networks(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        Ok(self.with(|s| {
            s.networks
                .iter()
                .filter(|(_, l)| matches(l, labels))
                .map(|(n, _)| n.clone())
                .collect()
        }))
    }

    async fn volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<String>, EngineError> {
        Ok(self.with(|s| {
            s.volumes
                .iter()
                .filter(|(_, l)| matches(l, labels))
                .map(|(n, _)| n.clone())
                .collect()
        }))
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        self.with(|s| {
            if s.containers.values().any(|c| c.name == spec.name) {
                return Err(EngineError::Conflict(format!("name {} in use", spec.name)));
            }
            s.next_id += 1;
            let id = format!("id{:010}", s.next_id);
            s.containers.insert(
                id.clone(),
                ContainerInfo {
                    id: id.clone(),
                    name: spec.name.clone(),
                    labels: spec.labels.clone(),
                    ports: spec.ports.clone(),
                    image: spec.image.clone(),
                    env: spec.env.clone(),
                    cmd: spec.cmd.clone(),
                    ..ContainerInfo::default()
                },
            );
            Ok(id)
        })
    }

    async fn build(
        &self,
        spec: &BuildSpec,
        on: &mut (dyn FnMut(PullEvent) + Send),
    ) -> Result<(), EngineError> {
        on(PullEvent::Status("Step 1/1".into()));
        self.with(|s| {
            if s.fail_start.contains(&spec.tag) {
                return Err(EngineError::Failed(format!("build of {} failed", spec.tag)));
            }
            s.builds.push(spec.tag.clone());
            s.images.push(spec.tag.clone());
            Ok(())
        })
    }

    async fn restart(&self, id: &str) -> Result<(), EngineError> {
        self.with(|s| s.restarts.push(id.to_string()));
        self.start(id).await
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.with(|s| {
            let image = s.containers.get(id).map(|c| c.image.clone());
            if image.is_some_and(|i| s.fail_start.contains(&i)) {
                return Err(EngineError::Failed("port is already allocated".into()));
            }
            Ok(())
        })?;
        self.with(|s| match s.containers.get_mut(id) {
            Some(c) => {
                c.running = true;
                c.status = "running".into();
                Ok(())
            }
            None => Err(EngineError::NotFound(id.into())),
        })
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        // Like the engine: by id or by name.
        self.with(|s| s.containers.retain(|k, c| k != id && c.name != id));
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        self.with(|s| s.networks.remove(name));
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<(), EngineError> {
        self.with(|s| s.volumes.remove(name));
        Ok(())
    }

    async fn logs_tail(&self, _id: &str, _lines: usize) -> Result<String, EngineError> {
        Ok(String::new())
    }
}
