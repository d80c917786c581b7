//! The judgements of `verify` over recorded facts: each drift found with its fix, nothing found
//! on facts that match.

use std::collections::BTreeMap;

use super::*;
use crate::engine::api::Published;
use crate::lock::{EngineLock, PackageLock, PythonLock};

const REF: &str = "reg:5000/t/pg:15";

fn lock() -> Lock {
    Lock {
        format: crate::lock::FORMAT,
        profile: "t".into(),
        profile_sha256: "p".into(),
        engine: EngineLock {
            minimum: "20.10".into(),
            minimum_api: "1.41".into(),
            locked_with: None,
        },
        python: Some(PythonLock {
            version: "3.11.7".into(),
        }),
        images: vec![image_lock()],
        packages: vec![PackageLock {
            name: "kailash".into(),
            version: "1.0".into(),
            sha256: Some("aa".into()),
            profile: true,
        }],
    }
}

fn image_lock() -> ImageLock {
    ImageLock {
        reference: REF.into(),
        digest: "sha256:11".into(),
        platforms: vec!["linux/amd64".into()],
        services: vec!["db".into()],
    }
}

fn local(digest: &str, id: &str) -> Local {
    Local {
        id: id.into(),
        repo_digests: vec![format!("reg:5000/t/pg@{digest}")],
        platform: "linux/amd64".into(),
    }
}

fn engine() -> EngineVersion {
    EngineVersion {
        version: "20.10.24+dfsg1".into(),
        api_version: "1.41".into(),
        product: "Docker Engine - Community".into(),
        platform: "linux/amd64".into(),
    }
}

fn container(hash: &str) -> ContainerInfo {
    ContainerInfo {
        id: "c1".into(),
        running: true,
        status: "running".into(),
        image: "reg:5000/t/pg@sha256:11".into(),
        env: vec!["A=1".into(), "POSTGRES_PASSWORD=s3cret-value".into()],
        labels: BTreeMap::from([(crate::stack::LABEL_HASH.to_string(), hash.to_string())]),
        ports: vec![Published {
            ip: "127.0.0.1".into(),
            host: 25432,
            container: 5432,
            udp: false,
        }],
        ..ContainerInfo::default()
    }
}

fn listing(version: &str, sha: &str) -> Listing {
    Listing {
        python: "3.11.7".into(),
        executable: "/p/.venv/bin/python".into(),
        packages: vec![Installed {
            name: "kailash".into(),
            version: version.into(),
            sha256: Some(sha.into()),
            editable: false,
            root: true,
        }],
        missing: Vec::new(),
    }
}

/// A machine exactly as the lock and profile want it.
fn clean() -> Facts {
    Facts {
        lock: Some(lock()),
        stale: None,
        engine: Some(Ok(engine())),
        images: vec![ImageFacts {
            locked: image_lock(),
            pinned: Some(local("sha256:11", "i1")),
            tagged: Some(local("sha256:11", "i1")),
            remote: None,
        }],
        services: vec![ServiceFacts {
            name: "db".into(),
            image: "reg:5000/t/pg@sha256:11".into(),
            hash: "h1".into(),
            env: vec!["A=1".into(), "POSTGRES_PASSWORD=s3cret-value".into()],
            container: Some(container("h1")),
        }],
        python: Some(PythonFacts {
            found: Ok(("3.11.7".into(), "/p/.venv/bin/python".into())),
            packages: Some(Ok(listing("1.0", "aa"))),
        }),
        shims: vec![ShimFacts {
            path: "windows_patch.py".into(),
            manifest: Some(vec!["s1".into()]),
            on_disk: Some("s1".into()),
        }],
        ports: vec![PortFacts {
            service: "db".into(),
            addr: "127.0.0.1:25432".into(),
            port: 25432,
            container_port: 5432,
            ours: true,
            free: true,
            holder: None,
        }],
    }
}

/// The failing outcomes' kinds (the id before the first colon).
fn drifts(f: &Facts) -> Vec<String> {
    judge(f)
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| {
            assert!(c.remedy.is_some(), "a drift without a fix: {c:?}");
            c.id.split(':').next().unwrap_or("").to_string()
        })
        .collect()
}

#[test]
fn a_machine_as_locked_has_no_drift() {
    let v = judge(&clean());
    assert!(v.ok, "{:#?}", v.checks);
    assert_eq!(v.drifts, 0);
}

#[test]
fn no_lock_or_a_stale_one_is_a_drift() {
    let mut f = clean();
    f.stale = Some("the profile changed since the lock was written".into());
    assert_eq!(drifts(&f), ["lock"]);
    f.lock = None;
    f.stale = None;
    assert_eq!(drifts(&f), ["lock"]);
}

#[test]
fn an_engine_older_than_the_lock_asks_for_an_upgrade() {
    let mut f = clean();
    f.lock.as_mut().unwrap().engine.minimum = "24.0".into();
    assert_eq!(drifts(&f), ["engine"]);
    let o = engine_outcome(&engine(), "24.0", "1.41");
    assert!(o.detail.contains("20.10.24"), "{}", o.detail);
    assert!(o.remedy.unwrap().contains("Docker 24.0"));
    let podman = EngineVersion {
        version: "4.3.1".into(),
        api_version: "1.41".into(),
        product: "Podman Engine".into(),
        platform: "linux/amd64".into(),
    };
    assert_eq!(
        engine_outcome(&podman, "20.10", "1.41").status,
        Status::Pass
    );
    assert_eq!(
        engine_outcome(&podman, "20.10", "1.43").status,
        Status::Fail
    );
}

#[test]
fn an_unreachable_engine_carries_its_remedy() {
    let mut f = clean();
    f.engine = Some(Err((
        "not running".into(),
        "sudo systemctl start docker".into(),
    )));
    f.images.clear();
    f.services.clear();
    assert_eq!(drifts(&f), ["engine"]);
}

#[test]
fn a_missing_architecture_gets_the_exact_fix() {
    let mut f = clean();
    f.engine.as_mut().unwrap().as_mut().unwrap().platform = "linux/arm64".into();
    f.images[0].pinned.as_mut().unwrap().platform = "linux/amd64".into();
    assert_eq!(drifts(&f), ["image.platform"]);
    let v = judge(&f);
    let o = v
        .checks
        .iter()
        .find(|c| c.id.starts_with("image.platform"))
        .unwrap();
    assert!(o.detail.contains("no linux/arm64 build"), "{}", o.detail);
    let fix = o.remedy.as_deref().unwrap();
    assert!(
        fix.contains("--platform linux/amd64,linux/arm64 -t reg:5000/t/pg:15 --push"),
        "{fix}"
    );
    assert!(fix.contains("onramp lock"), "{fix}");
}

#[test]
fn a_local_copy_of_another_platform_is_a_drift() {
    let mut f = clean();
    f.images[0].locked.platforms.push("linux/arm64".into());
    f.engine.as_mut().unwrap().as_mut().unwrap().platform = "linux/arm64".into();
    assert_eq!(drifts(&f), ["image.platform"]);
}

#[test]
fn another_digest_is_named_with_the_one_here() {
    let mut f = clean();
    f.images[0].pinned = None;
    f.images[0].tagged = Some(local("sha256:22", "i2"));
    let d = drifts(&f);
    assert!(d.contains(&"image.digest".to_string()), "{d:?}");
    let v = judge(&f);
    let o = v
        .checks
        .iter()
        .find(|c| c.id.starts_with("image.digest"))
        .unwrap();
    assert!(o.detail.contains("sha256:22"), "{}", o.detail);
    assert!(
        o.remedy
            .as_deref()
            .unwrap()
            .contains("reg:5000/t/pg@sha256:11")
    );
}

#[test]
fn a_moved_tag_is_found_here_and_in_the_registry() {
    let mut f = clean();
    f.images[0].tagged = Some(local("sha256:22", "i2"));
    assert_eq!(drifts(&f), ["image.tag"]);
    let mut f = clean();
    f.images[0].remote = Some(Ok(Remote {
        digest: "sha256:33".into(),
        platforms: vec!["linux/amd64".into()],
    }));
    assert_eq!(drifts(&f), ["image.tag"]);
    let mut f = clean();
    f.images[0].remote = Some(Err("connection refused".into()));
    assert!(
        judge(&f).ok,
        "an unreachable registry warns, it is no drift"
    );
}

#[test]
fn a_stopped_or_missing_service_is_started_by_up() {
    let mut f = clean();
    let c = f.services[0].container.as_mut().unwrap();
    c.running = false;
    c.status = "exited".into();
    c.exit_code = 137;
    assert_eq!(drifts(&f), ["service.running"]);
    let o = service_outcome(&f.services[0]);
    assert!(o.detail.contains("137"));
    assert_eq!(o.remedy.as_deref(), Some("`onramp up db` starts it again"));
    f.services[0].container = None;
    assert_eq!(drifts(&f), ["service.running"]);
}

#[test]
fn a_changed_environment_value_is_named_without_its_value() {
    let mut f = clean();
    f.services[0].hash = "h2".into();
    f.services[0].env[1] = "POSTGRES_PASSWORD=an0ther-value".into();
    assert_eq!(drifts(&f), ["service.config"]);
    let o = service_outcome(&f.services[0]);
    assert!(
        o.detail.contains("environment POSTGRES_PASSWORD changed"),
        "{}",
        o.detail
    );
    assert!(
        !o.detail.contains("an0ther") && !o.detail.contains("s3cret"),
        "{}",
        o.detail
    );
}

#[test]
fn another_python_is_a_drift_and_another_patch_release_is_not() {
    let mut f = clean();
    f.lock.as_mut().unwrap().python.as_mut().unwrap().version = "3.12.1".into();
    assert_eq!(drifts(&f), ["python"]);
    assert_eq!(
        python_outcome("3.11.2", "3.11.7", "py").status,
        Status::Pass
    );
    let o = python_outcome("3.12.1", "3.11.7", "py");
    assert!(o.remedy.unwrap().contains("python3.12 -m venv .venv"));
}

#[test]
fn a_missing_changed_or_rebuilt_package_is_a_drift() {
    let mut f = clean();
    f.python.as_mut().unwrap().packages = Some(Ok(Listing {
        packages: Vec::new(),
        ..listing("1.0", "aa")
    }));
    assert_eq!(drifts(&f), ["package"]);
    let locked = lock().packages;
    let o = &package_outcomes(&locked, &listing("1.1", "aa"), "/p/.venv/bin/python")[0];
    assert!(
        o.detail.contains("1.1 is installed; the lock has 1.0"),
        "{}",
        o.detail
    );
    assert_eq!(
        o.remedy.as_deref(),
        Some("`/p/.venv/bin/python -m pip install 'kailash==1.0'`")
    );
    let o = &package_outcomes(&locked, &listing("1.0", "bb"), "py")[0];
    assert!(o.remedy.as_deref().unwrap().contains("--force-reinstall"));
    let mut editable = listing("1.0", "bb");
    editable.packages[0].editable = true;
    assert_eq!(
        package_outcomes(&locked, &editable, "py")[0].status,
        Status::Pass
    );
}

#[test]
fn an_edited_or_missing_shim_is_a_drift() {
    let mut f = clean();
    f.shims[0].on_disk = Some("edited".into());
    assert_eq!(drifts(&f), ["shim"]);
    f.shims[0].on_disk = None;
    assert_eq!(drifts(&f), ["shim"]);
    f.shims[0] = ShimFacts {
        path: "windows_patch.py".into(),
        manifest: None,
        on_disk: Some("mine".into()),
    };
    assert!(judge(&f).ok, "a shim onramp did not write is the user's");
}

#[test]
fn a_port_held_by_another_process_names_it() {
    let mut f = clean();
    f.ports[0].ours = false;
    f.ports[0].free = false;
    f.ports[0].holder = Some(Holder {
        pid: 4242,
        command: "python3".into(),
    });
    assert_eq!(drifts(&f), ["port"]);
    let o = port_outcome(&f.ports[0]);
    assert!(o.detail.contains("python3 (pid 4242)"), "{}", o.detail);
    assert!(o.remedy.unwrap().contains("kill 4242"));
    f.ports[0].free = true;
    assert!(judge(&f).ok);
}
