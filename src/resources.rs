//! Effective memory and CPUs: the host's, narrowed by cgroup limits (containers, systemd slices).
//! Parsing is pure; `collect` reads `/proc` and `/sys/fs/cgroup` through the host.

use crate::host::{Host, Os};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// cgroup v1 reports "no limit" as a huge page-rounded number.
const V1_UNLIMITED: u64 = 1 << 60;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Memory {
    pub host_bytes: u64,
    pub available_bytes: Option<u64>,
    pub cgroup_limit_bytes: Option<u64>,
}

impl Memory {
    pub fn effective_bytes(&self) -> u64 {
        self.cgroup_limit_bytes
            .map_or(self.host_bytes, |l| l.min(self.host_bytes))
    }

    pub fn effective_gib(&self) -> f64 {
        self.effective_bytes() as f64 / GIB
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cpus {
    /// Logical CPUs this process may run on (affinity), as `nproc` counts them.
    pub logical: u32,
    /// CPU time quota as a number of CPUs (`cpu.max`, `cfs_quota_us / cfs_period_us`).
    pub quota: Option<f64>,
    pub physical: Option<u32>,
}

impl Cpus {
    /// Logical CPUs, under the quota rounded up.
    pub fn effective(&self) -> f64 {
        let logical = f64::from(self.logical);
        self.quota.map_or(logical, |q| q.min(logical))
    }
}

/// `MemTotal` and `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn parse_meminfo(text: &str) -> Option<(u64, Option<u64>)> {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            let kb: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(kb * 1024)
        })
    };
    Some((field("MemTotal")?, field("MemAvailable")))
}

/// A cgroup membership line of `/proc/self/cgroup`.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupLine {
    pub controllers: Vec<String>,
    pub path: String,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrl = it.next()?;
            let path = it.next()?.to_string();
            let controllers = ctrl
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some(CgroupLine { controllers, path })
        })
        .collect()
}

/// `memory.max` (v2) or `memory.limit_in_bytes` (v1); `None` for no limit.
pub fn parse_memory_limit(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        return None;
    }
    t.parse::<u64>().ok().filter(|v| *v < V1_UNLIMITED)
}

/// `cpu.max` (v2): `"max 100000"` or `"150000 100000"`, as CPUs.
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period: f64 = it.next()?.parse().ok()?;
    let quota: f64 = quota.parse().ok()?;
    (period > 0.0).then(|| quota / period)
}

/// v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`, as CPUs; `-1` means no quota.
pub fn parse_cfs(quota: &str, period: &str) -> Option<f64> {
    let q: i64 = quota.trim().parse().ok()?;
    let p: i64 = period.trim().parse().ok()?;
    (q > 0 && p > 0).then(|| q as f64 / p as f64)
}

/// Count CPUs in a list such as `0-3,8,10-11` (`Cpus_allowed_list`).
pub fn count_cpu_list(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        n = n.checked_add(match part.split_once('-') {
            Some((a, b)) => b
                .parse::<u32>()
                .ok()?
                .checked_sub(a.parse::<u32>().ok()?)?
                .checked_add(1)?,
            None => {
                part.parse::<u32>().ok()?;
                1
            }
        })?;
    }
    (n > 0).then_some(n)
}

/// The directories to read a controller's files from: the process's own cgroup and each
/// ancestor up to the mount root (a limit anywhere above applies too). Inside a container the
/// recorded path may not exist under its mount; then only the mount root counts.
fn cgroup_dirs(host: &Host, mount: &str, path: &str) -> Vec<String> {
    let own = format!("{}/{}", mount, path.trim_start_matches('/'));
    let own = own.trim_end_matches('/').to_string();
    if !host.sys_exists(&own) {
        return vec![mount.to_string()];
    }
    let mut dirs = vec![own.clone()];
    let mut cur = own;
    while let Some((parent, _)) = cur.rsplit_once('/') {
        if parent.len() < mount.len() {
            break;
        }
        dirs.push(parent.to_string());
        cur = parent.to_string();
    }
    dirs
}

/// Smallest value of a limit file across a cgroup and its ancestors.
fn min_over<T: PartialOrd + Copy>(
    host: &Host,
    dirs: &[String],
    read: impl Fn(&Host, &str) -> Option<T>,
) -> Option<T> {
    dirs.iter()
        .filter_map(|d| read(host, d))
        .fold(None, |acc: Option<T>, v| match acc {
            Some(a) if a <= v => Some(a),
            _ => Some(v),
        })
}

fn is_cgroup2_unified(host: &Host) -> bool {
    host.sys_exists("/sys/fs/cgroup/cgroup.controllers")
}

fn cgroup_memory_limit(host: &Host, lines: &[CgroupLine]) -> Option<u64> {
    if is_cgroup2_unified(host) {
        let line = lines.iter().find(|l| l.controllers.is_empty())?;
        let dirs = cgroup_dirs(host, "/sys/fs/cgroup", &line.path);
        return min_over(host, &dirs, |h, d| {
            parse_memory_limit(&h.sys_read(&format!("{d}/memory.max"))?)
        });
    }
    let line = lines
        .iter()
        .find(|l| l.controllers.iter().any(|c| c == "memory"))?;
    let dirs = cgroup_dirs(host, "/sys/fs/cgroup/memory", &line.path);
    min_over(host, &dirs, |h, d| {
        parse_memory_limit(&h.sys_read(&format!("{d}/memory.limit_in_bytes"))?)
    })
}

fn cgroup_cpu_quota(host: &Host, lines: &[CgroupLine]) -> Option<f64> {
    if is_cgroup2_unified(host) {
        let line = lines.iter().find(|l| l.controllers.is_empty())?;
        let dirs = cgroup_dirs(host, "/sys/fs/cgroup", &line.path);
        return min_over(host, &dirs, |h, d| {
            parse_cpu_max(&h.sys_read(&format!("{d}/cpu.max"))?)
        });
    }
    let line = lines
        .iter()
        .find(|l| l.controllers.iter().any(|c| c == "cpu"))?;
    let mount = ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]
        .into_iter()
        .find(|m| host.sys_exists(m))?;
    let dirs = cgroup_dirs(host, mount, &line.path);
    min_over(host, &dirs, |h, d| {
        parse_cfs(
            &h.sys_read(&format!("{d}/cpu.cfs_quota_us"))?,
            &h.sys_read(&format!("{d}/cpu.cfs_period_us"))?,
        )
    })
}

/// Memory as this process sees it; `None` when nothing could be read.
pub fn memory(host: &Host) -> Option<Memory> {
    if host.os() != Os::Linux {
        return native_memory();
    }
    let (host_bytes, available_bytes) = parse_meminfo(&host.sys_read("/proc/meminfo")?)?;
    let lines = parse_proc_cgroup(&host.sys_read("/proc/self/cgroup").unwrap_or_default());
    Some(Memory {
        host_bytes,
        available_bytes,
        cgroup_limit_bytes: cgroup_memory_limit(host, &lines),
    })
}

/// CPUs as this process sees them; `None` when nothing could be read.
pub fn cpus(host: &Host) -> Option<Cpus> {
    if host.os() != Os::Linux {
        let logical = std::thread::available_parallelism().ok()?.get();
        return Some(Cpus {
            logical: u32::try_from(logical).ok()?,
            quota: None,
            physical: physical_cores(),
        });
    }
    let status = host.sys_read("/proc/self/status").unwrap_or_default();
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(count_cpu_list);
    let logical = allowed.or_else(|| {
        let info = host.sys_read("/proc/cpuinfo")?;
        let n = info.lines().filter(|l| l.starts_with("processor")).count();
        u32::try_from(n).ok().filter(|n| *n > 0)
    })?;
    let lines = parse_proc_cgroup(&host.sys_read("/proc/self/cgroup").unwrap_or_default());
    Some(Cpus {
        logical,
        quota: cgroup_cpu_quota(host, &lines),
        physical: if host.sysroot_overridden() {
            None
        } else {
            physical_cores()
        },
    })
}

fn physical_cores() -> Option<u32> {
    sysinfo::System::physical_core_count()
        .ok()
        .and_then(|n| u32::try_from(n).ok())
}

fn native_memory() -> Option<Memory> {
    let mut sys = sysinfo::System::new().ok()?;
    sys.refresh_memory();
    let total = sys.total_memory();
    (total > 0).then(|| Memory {
        host_bytes: total,
        available_bytes: Some(sys.available_memory()),
        cgroup_limit_bytes: None,
    })
}

pub fn gib(bytes: u64) -> f64 {
    bytes as f64 / GIB
}

#[cfg(test)]
// Tests make their fixtures with std::fs.
#[allow(clippy::disallowed_methods, clippy::disallowed_types)]
mod tests {
    use super::*;

    #[test]
    fn reversed_cpu_ranges_are_refused_not_wrapped() {
        assert_eq!(count_cpu_list("5-0"), None);
        assert_eq!(count_cpu_list("0-3,8"), Some(5));
    }

    #[test]
    fn meminfo_in_bytes() {
        let text = "MemTotal:       24582352 kB\nMemFree:        23000000 kB\nMemAvailable:   23900000 kB\n";
        assert_eq!(
            parse_meminfo(text),
            Some((24582352 * 1024, Some(23900000 * 1024)))
        );
        assert_eq!(parse_meminfo("nothing"), None);
    }

    #[test]
    fn cgroup_lines_v1_and_v2() {
        let lines =
            parse_proc_cgroup("4:memory:/process_api/8e91\n2:cpu,cpuacct:/\n0::/user.slice\n");
        assert_eq!(lines[0].controllers, ["memory"]);
        assert_eq!(lines[0].path, "/process_api/8e91");
        assert_eq!(lines[1].controllers, ["cpu", "cpuacct"]);
        assert!(lines[2].controllers.is_empty());
    }

    #[test]
    fn limits_and_quotas() {
        assert_eq!(parse_memory_limit("max\n"), None);
        assert_eq!(parse_memory_limit("9223372036854771712\n"), None);
        assert_eq!(parse_memory_limit("536870912\n"), Some(536870912));
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cfs("-1", "100000"), None);
        assert_eq!(parse_cfs("50000\n", "100000\n"), Some(0.5));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list("0-1\n"), Some(2));
        assert_eq!(count_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(count_cpu_list("x"), None);
    }

    fn write(root: &std::path::Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn v2_limit_is_the_smallest_along_the_hierarchy() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(
            r,
            "proc/meminfo",
            "MemTotal: 16777216 kB\nMemAvailable: 8000000 kB\n",
        );
        write(r, "proc/self/cgroup", "0::/a/b\n");
        write(r, "proc/self/status", "Cpus_allowed_list:\t0-7\n");
        write(r, "sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
        write(r, "sys/fs/cgroup/a/memory.max", "2147483648\n");
        write(r, "sys/fs/cgroup/a/b/memory.max", "max\n");
        write(r, "sys/fs/cgroup/a/b/cpu.max", "200000 100000\n");
        let host = Host::with(r, &[], Os::Linux);
        let m = memory(&host).unwrap();
        assert_eq!(m.effective_bytes(), 2147483648);
        let c = cpus(&host).unwrap();
        assert_eq!((c.logical, c.effective()), (8, 2.0));
    }

    #[test]
    fn v1_inside_a_container_reads_the_mount_root() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "proc/meminfo", "MemTotal: 16777216 kB\n");
        write(
            r,
            "proc/self/cgroup",
            "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n",
        );
        write(
            r,
            "proc/cpuinfo",
            "processor\t: 0\nprocessor\t: 1\nprocessor\t: 2\n",
        );
        write(
            r,
            "sys/fs/cgroup/memory/memory.limit_in_bytes",
            "1073741824\n",
        );
        write(r, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "150000\n");
        write(r, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
        let host = Host::with(r, &[], Os::Linux);
        assert_eq!(memory(&host).unwrap().effective_bytes(), 1073741824);
        let c = cpus(&host).unwrap();
        assert_eq!((c.logical, c.effective()), (3, 1.5));
    }
}
