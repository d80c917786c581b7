//! The one safe path for project files: every read and write stays inside the project directory.
//!
//! Each path is walked from the project root one component at a time without following links
//! (`openat` with `O_NOFOLLOW`), so a symlink anywhere below the root (the target, a parent,
//! `.onramp/`) is refused instead of followed. Writes go to a temporary file with a random name
//! created exclusively beside the target, are synced and renamed into place. Files outside the
//! project (profiles, system files) are read only when they are regular files, with a size cap.
//! With `host`, the only module that may touch `std::fs` (clippy.toml enforces it).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};

/// Every temporary file onramp creates starts with this, so a killed run's leftovers are found.
pub const TEMP_PREFIX: &str = ".onramp-tmp.";
/// The largest project file onramp reads (a rendered file, the manifest).
pub const PROJECT_CAP: u64 = 4 << 20;
/// The largest profile onramp reads.
pub const FILE_CAP: u64 = 1 << 20;
/// The largest system file onramp reads (`/proc/net/tcp` on a busy host is large).
pub const SYSTEM_CAP: u64 = 16 << 20;

/// Whether files have Unix permission bits here (modes are set, shown and checked only then).
pub const MODES: bool = cfg!(unix);

/// A project directory; every path given to it is relative and checked component by component.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

/// What is at a path, looked at without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Missing,
    File { mode: u32 },
    Other,
}

fn unsafe_path(path: &Path, message: &str) -> Error {
    Error::Unsafe {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Split a relative path into its parent components and file name, refusing `..`, absolute
/// paths and empty names.
fn split(rel: &str) -> Option<(Vec<String>, String)> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            std::path::Component::Normal(n) => parts.push(n.to_str()?.to_string()),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    let name = parts.pop()?;
    Some((parts, name))
}

impl Root {
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn parts(&self, rel: &str) -> Result<(Vec<String>, String)> {
        split(rel).ok_or_else(|| Error::PathEscape {
            path: rel.to_string(),
            dir: self.dir.clone(),
        })
    }

    /// What is at `rel`, without following links (a link below the root in a parent is refused).
    pub fn kind(&self, rel: &str) -> Result<Kind> {
        let (parents, name) = self.parts(rel)?;
        sys::kind(&self.dir, &parents, &name)
    }

    /// The bytes of a regular file inside the project; `None` when nothing is there.
    pub fn read(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        let (parents, name) = self.parts(rel)?;
        sys::read(&self.dir, &parents, &name, PROJECT_CAP)
    }

    /// The text of a regular file inside the project; `None` when nothing is there.
    pub fn read_text(&self, rel: &str) -> Result<Option<String>> {
        match self.read(rel)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
                unsafe_path(
                    &self.dir.join(rel),
                    "is not UTF-8 text; onramp will not touch it",
                )
            }),
        }
    }

    /// Replace (or create) a file atomically with exactly `mode`, whatever the umask.
    pub fn write(&self, rel: &str, bytes: &[u8], mode: u32) -> Result<()> {
        let (parents, name) = self.parts(rel)?;
        sys::write(&self.dir, &parents, &name, bytes, mode, false).map(|_| ())
    }

    /// Create a file that must not exist yet: `Ok(false)` when something is already there.
    pub fn create_new(&self, rel: &str, bytes: &[u8], mode: u32) -> Result<bool> {
        let (parents, name) = self.parts(rel)?;
        sys::write(&self.dir, &parents, &name, bytes, mode, true)
    }

    /// Set the mode of a regular file inside the project.
    pub fn set_mode(&self, rel: &str, mode: u32) -> Result<()> {
        let (parents, name) = self.parts(rel)?;
        sys::set_mode(&self.dir, &parents, &name, mode)
    }

    /// Remove a file inside the project (a link is removed, never followed).
    pub fn remove(&self, rel: &str) -> Result<()> {
        let (parents, name) = self.parts(rel)?;
        sys::remove(&self.dir, &parents, &name)
    }

    /// Remove a directory onramp made inside the project (`.onramp`, a broken `.venv`) with
    /// everything in it; a link there is removed, never followed. Missing is fine.
    pub fn remove_tree(&self, rel: &str) -> Result<()> {
        let path = self.dir.join(rel);
        let (_parents, _name) = self.parts(rel)?;
        let done = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        done.map_err(|source| Error::Write { path, source })
    }

    /// Create the directory `rel` and its parents inside the project (a link on the way is
    /// refused, never followed); an existing directory is fine.
    pub fn make_dir(&self, rel: &str) -> Result<()> {
        let (mut parents, name) = self.parts(rel)?;
        parents.push(name);
        sys::make_dir(&self.dir, &parents)
    }

    /// Give `rel` (a file or directory inside the project, never through a link) to another
    /// owner: for a server onramp, as root, runs as an unprivileged user. Unix only.
    pub fn chown(&self, rel: &str, uid: u32, gid: u32) -> Result<()> {
        let (parents, name) = self.parts(rel)?;
        sys::chown(&self.dir, &parents, &name, uid, gid)
    }

    /// Remove the temporary files a killed run left in the directory `rel` ("" for the root);
    /// returns how many.
    pub fn clean_temps(&self, rel: &str) -> usize {
        let parents: Vec<String> = if rel.is_empty() {
            Vec::new()
        } else {
            match split(rel) {
                Some((mut p, n)) => {
                    p.push(n);
                    p
                }
                None => return 0,
            }
        };
        sys::clean_temps(&self.dir, &parents)
    }

    /// The names in the directory `rel` inside the project (empty when it is missing); the
    /// directory and its parents are walked without following links.
    pub fn list(&self, rel: &str) -> Vec<String> {
        let Some((mut parents, name)) = split(rel) else {
            return Vec::new();
        };
        parents.push(name);
        let mut names = sys::list(&self.dir, &parents);
        names.sort();
        names
    }

    /// Open (creating it and its directory) a lock file inside the project.
    pub fn open_lock(&self, rel: &str) -> Result<std::fs::File> {
        let (parents, name) = self.parts(rel)?;
        sys::open_lock(&self.dir, &parents, &name)
    }

    /// Take the exclusive lock on a lock file inside the project without waiting: `None` when
    /// another process holds it.
    pub fn try_lock(&self, rel: &str) -> Result<Option<Held>> {
        let file = self.open_lock(rel)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Held(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(source)) => Err(Error::Write {
                path: self.dir.join(rel),
                source,
            }),
        }
    }

    /// Open (creating it and its directory) a log file inside the project for appending: a
    /// link at the file or any parent is refused, a FIFO or device too.
    pub fn open_log(&self, rel: &str) -> Result<std::fs::File> {
        use std::io::Seek;
        let mut file = self.open_lock(rel)?;
        file.seek(std::io::SeekFrom::End(0))
            .map_err(|source| Error::Write {
                path: self.dir.join(rel),
                source,
            })?;
        Ok(file)
    }
}

/// A file opened through this module (its checks done): the type other modules may hold; they
/// cannot open one themselves.
pub type Opened = std::fs::File;

/// A lock held on a file; released when dropped.
#[derive(Debug)]
pub struct Held(#[allow(dead_code)] std::fs::File);

/// The first free name among `base`, `base.1`, `base.2`, ... inside the project.
pub fn free_name(root: &Root, base: &str) -> Result<String> {
    for i in 0..1000 {
        let name = if i == 0 {
            base.to_string()
        } else {
            format!("{base}.{i}")
        };
        if root.kind(&name)? == Kind::Missing {
            return Ok(name);
        }
    }
    Err(unsafe_path(
        &root.dir().join(base),
        "and a thousand numbered variants exist already",
    ))
}

/// Read a file outside the project (a profile, a system file) only if it is a regular file of at
/// most `cap` bytes; a FIFO, a device or a directory is refused without blocking.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>> {
    read_capped(open_regular(path)?, path, cap)
}

/// Open a file outside the project for reading only if it is a regular file: the open does not
/// wait for a FIFO's writer, and a FIFO, a device or a directory is then refused.
pub fn open_regular(path: &Path) -> Result<std::fs::File> {
    let file = sys::open_nonblocking(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let meta = file.metadata().map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(unsafe_path(path, "is not a regular file"));
    }
    Ok(file)
}

/// The text of a regular file outside the project (a config file, an SDK source), capped at
/// [`FILE_CAP`]; `None` when it is missing, special, too large or not UTF-8.
pub fn read_text_file(path: &Path) -> Option<String> {
    String::from_utf8(read_regular(path, FILE_CAP).ok()?).ok()
}

/// What `path` is, looked at without following a link (`None`: nothing there).
pub fn lstat(path: &Path) -> Option<std::fs::Metadata> {
    std::fs::symlink_metadata(path).ok()
}

/// What `path` leads to, following links.
pub fn stat(path: &Path) -> std::io::Result<std::fs::Metadata> {
    std::fs::metadata(path)
}

/// The paths in a directory, sorted by name (empty when it cannot be read).
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// The paths in a directory, sorted by name, or why it cannot be read.
pub fn list_strict(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    out.sort();
    Ok(out)
}

/// Open a file outside the project for reading (an image archive the user named).
pub fn open_read(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Create a file outside the project that must not exist yet (the partial file of an archive
/// being written).
pub fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Move a finished file into place, or remove it (`to` is `None`).
pub fn finish(partial: &Path, to: Option<&Path>) -> std::io::Result<()> {
    match to {
        Some(to) => std::fs::rename(partial, to),
        None => std::fs::remove_file(partial),
    }
}

/// Whether the last `tail` bytes of a regular file outside the project (a log) contain
/// `needle`; `false` when it is missing or special.
pub fn tail_contains(path: &Path, tail: u64, needle: &str) -> bool {
    use std::io::{Seek, SeekFrom};
    let Ok(mut file) = sys::open_nonblocking(path) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if !meta.is_file()
        || file
            .seek(SeekFrom::Start(meta.len().saturating_sub(tail)))
            .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let _ = file.take(tail).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).contains(needle)
}

fn read_capped(file: std::fs::File, path: &Path, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(unsafe_path(
            path,
            &format!("is larger than {} KiB; onramp will not read it", cap >> 10),
        ));
    }
    Ok(bytes)
}

fn random_suffix() -> String {
    let mut buf = [0u8; 8];
    if getrandom::fill(&mut buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        buf = (nanos as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The temporary name for a write of `name`: the prefix, a random part, and the name (shortened
/// to stay within the file system's limit).
fn temp_name(name: &str) -> String {
    let short: String = name.chars().take(120).collect();
    format!("{TEMP_PREFIX}{}.{short}", random_suffix())
}

#[cfg(unix)]
mod sys {
    //! `openat`-based walk: no component below the root is ever followed as a link.

    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};

    use super::{Kind, TEMP_PREFIX, read_capped, temp_name, unsafe_path};
    use crate::errors::{Error, Result};

    fn cstr(s: &str) -> std::io::Result<CString> {
        CString::new(s).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    }

    fn last_error() -> std::io::Error {
        std::io::Error::last_os_error()
    }

    fn errno(e: &std::io::Error) -> i32 {
        e.raw_os_error().unwrap_or(0)
    }

    fn path_of(root: &Path, parents: &[String], name: Option<&str>) -> PathBuf {
        let mut p = root.to_path_buf();
        for c in parents {
            p.push(c);
        }
        if let Some(n) = name {
            p.push(n);
        }
        p
    }

    fn openat(dir: i32, name: &str, flags: i32, mode: u32) -> std::io::Result<OwnedFd> {
        let c = cstr(name)?;
        // SAFETY: a valid C string and flags; the returned descriptor is owned below.
        let fd = unsafe { libc::openat(dir, c.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        if fd < 0 {
            return Err(last_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn lstat_at(dir: i32, name: &str) -> std::io::Result<libc::stat> {
        let c = cstr(name)?;
        // SAFETY: zeroed stat is a valid out-parameter for fstatat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor, C string and out-pointer.
        let rc = unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        if rc != 0 {
            return Err(last_error());
        }
        Ok(st)
    }

    fn fstat(fd: &OwnedFd) -> std::io::Result<libc::stat> {
        // SAFETY: zeroed stat is a valid out-parameter for fstat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid descriptor and out-pointer.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
            return Err(last_error());
        }
        Ok(st)
    }

    fn is_link(st: &libc::stat) -> bool {
        st.st_mode & libc::S_IFMT == libc::S_IFLNK
    }

    fn is_reg(st: &libc::stat) -> bool {
        st.st_mode & libc::S_IFMT == libc::S_IFREG
    }

    /// Why a component could not be opened as a directory.
    fn refuse(dir: i32, name: &str, path: &Path, e: std::io::Error, write: bool) -> Error {
        match lstat_at(dir, name) {
            Ok(st) if is_link(&st) => unsafe_path(
                path,
                "is a symbolic link; onramp does not follow links inside the project",
            ),
            Ok(_) if matches!(errno(&e), libc::ENOTDIR | libc::ELOOP) => {
                unsafe_path(path, "is not a directory")
            }
            _ if write => Error::Write {
                path: path.to_path_buf(),
                source: e,
            },
            _ => Error::Read {
                path: path.to_path_buf(),
                source: e,
            },
        }
    }

    /// Open the root, then each parent below it without following links; `create` makes
    /// missing directories. `Ok(None)` when a parent is missing and `create` is off.
    fn walk(root: &Path, parents: &[String], create: bool) -> Result<Option<OwnedFd>> {
        let c = CString::new(root.as_os_str().as_bytes())
            .map_err(|_| unsafe_path(root, "contains a NUL byte"))?;
        // SAFETY: valid C string; descriptor owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::Read {
                path: root.to_path_buf(),
                source: last_error(),
            });
        }
        // SAFETY: freshly opened descriptor.
        let mut cur = unsafe { OwnedFd::from_raw_fd(fd) };
        for (i, comp) in parents.iter().enumerate() {
            let here = path_of(root, &parents[..=i], None);
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            let next = match openat(cur.as_raw_fd(), comp, flags, 0) {
                Ok(fd) => fd,
                Err(e) if errno(&e) == libc::ENOENT && create => {
                    let name = cstr(comp).map_err(|source| Error::Write {
                        path: here.clone(),
                        source,
                    })?;
                    // SAFETY: valid descriptor and C string.
                    let rc = unsafe { libc::mkdirat(cur.as_raw_fd(), name.as_ptr(), 0o755) };
                    if rc != 0 && errno(&last_error()) != libc::EEXIST {
                        return Err(Error::Write {
                            path: here,
                            source: last_error(),
                        });
                    }
                    openat(cur.as_raw_fd(), comp, flags, 0)
                        .map_err(|e| refuse(cur.as_raw_fd(), comp, &here, e, true))?
                }
                Err(e) if errno(&e) == libc::ENOENT => return Ok(None),
                Err(e) => return Err(refuse(cur.as_raw_fd(), comp, &here, e, create)),
            };
            cur = next;
        }
        Ok(Some(cur))
    }

    pub fn kind(root: &Path, parents: &[String], name: &str) -> Result<Kind> {
        let Some(dir) = walk(root, parents, false)? else {
            return Ok(Kind::Missing);
        };
        match lstat_at(dir.as_raw_fd(), name) {
            Ok(st) if is_reg(&st) => Ok(Kind::File {
                mode: st.st_mode & 0o7777,
            }),
            Ok(_) => Ok(Kind::Other),
            Err(e) if errno(&e) == libc::ENOENT => Ok(Kind::Missing),
            Err(source) => Err(Error::Read {
                path: path_of(root, parents, Some(name)),
                source,
            }),
        }
    }

    /// Open a regular file below the root for reading; `None` when missing.
    fn open_file(root: &Path, parents: &[String], name: &str) -> Result<Option<std::fs::File>> {
        let path = path_of(root, parents, Some(name));
        let Some(dir) = walk(root, parents, false)? else {
            return Ok(None);
        };
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let fd = match openat(dir.as_raw_fd(), name, flags, 0) {
            Ok(fd) => fd,
            Err(e) if errno(&e) == libc::ENOENT => return Ok(None),
            Err(e) if errno(&e) == libc::ELOOP => {
                return Err(unsafe_path(
                    &path,
                    "is a symbolic link; onramp does not follow links inside the project",
                ));
            }
            Err(source) => return Err(Error::Read { path, source }),
        };
        let st = fstat(&fd).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        if !is_reg(&st) {
            return Err(unsafe_path(&path, "is not a regular file"));
        }
        Ok(Some(std::fs::File::from(fd)))
    }

    pub fn read(root: &Path, parents: &[String], name: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        let path = path_of(root, parents, Some(name));
        match open_file(root, parents, name)? {
            None => Ok(None),
            Some(f) => read_capped(f, &path, cap).map(Some),
        }
    }

    pub fn set_mode(root: &Path, parents: &[String], name: &str, mode: u32) -> Result<()> {
        let path = path_of(root, parents, Some(name));
        let Some(f) = open_file(root, parents, name)? else {
            return Ok(());
        };
        // SAFETY: valid descriptor.
        if unsafe { libc::fchmod(f.as_raw_fd(), mode as libc::mode_t) } != 0 {
            return Err(Error::Write {
                path,
                source: last_error(),
            });
        }
        Ok(())
    }

    pub fn write(
        root: &Path,
        parents: &[String],
        name: &str,
        bytes: &[u8],
        mode: u32,
        no_replace: bool,
    ) -> Result<bool> {
        use std::io::Write;
        let path = path_of(root, parents, Some(name));
        let werr = |source: std::io::Error| Error::Write {
            path: path.clone(),
            source,
        };
        let dir = walk(root, parents, true)?.ok_or_else(|| unsafe_path(&path, "has no parent"))?;
        let dfd = dir.as_raw_fd();
        match lstat_at(dfd, name) {
            Ok(st) if is_link(&st) => {
                return Err(unsafe_path(
                    &path,
                    "is a symbolic link; onramp does not follow links inside the project",
                ));
            }
            Ok(_) if no_replace => return Ok(false),
            Ok(st) if !is_reg(&st) => return Err(unsafe_path(&path, "is not a regular file")),
            _ => {}
        }
        let tmp = temp_name(name);
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
        let fd = openat(dfd, &tmp, flags, mode & 0o777).map_err(werr)?;
        let result = (|| -> std::io::Result<bool> {
            // SAFETY: valid descriptor; sets exactly `mode`, whatever the umask.
            if unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) } != 0 {
                return Err(last_error());
            }
            let mut f = std::fs::File::from(fd);
            f.write_all(bytes)?;
            f.sync_all()?;
            let from = cstr(&tmp)?;
            let to = cstr(name)?;
            if no_replace {
                // SAFETY: valid descriptors and C strings; link fails if `name` exists.
                let rc = unsafe { libc::linkat(dfd, from.as_ptr(), dfd, to.as_ptr(), 0) };
                if rc != 0 {
                    let e = last_error();
                    if errno(&e) == libc::EEXIST {
                        return Ok(false);
                    }
                    return Err(e);
                }
                // SAFETY: valid descriptor and C string.
                unsafe { libc::unlinkat(dfd, from.as_ptr(), 0) };
            } else {
                // SAFETY: valid descriptors and C strings.
                if unsafe { libc::renameat(dfd, from.as_ptr(), dfd, to.as_ptr()) } != 0 {
                    return Err(last_error());
                }
            }
            // SAFETY: valid descriptor.
            unsafe { libc::fsync(dfd) };
            Ok(true)
        })();
        if !matches!(result, Ok(true))
            && let Ok(c) = cstr(&tmp)
        {
            // SAFETY: valid descriptor and C string.
            unsafe { libc::unlinkat(dfd, c.as_ptr(), 0) };
        }
        result.map_err(werr)
    }

    pub fn remove(root: &Path, parents: &[String], name: &str) -> Result<()> {
        let path = path_of(root, parents, Some(name));
        let Some(dir) = walk(root, parents, false)? else {
            return Ok(());
        };
        let c = cstr(name).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        // SAFETY: valid descriptor and C string.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } != 0 {
            let e = last_error();
            if errno(&e) != libc::ENOENT {
                return Err(Error::Write { path, source: e });
            }
        }
        Ok(())
    }

    pub fn list(root: &Path, parents: &[String]) -> Vec<String> {
        let Ok(Some(_dir)) = walk(root, parents, false) else {
            return Vec::new();
        };
        std::fs::read_dir(path_of(root, parents, None))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn clean_temps(root: &Path, parents: &[String]) -> usize {
        let Ok(Some(dir)) = walk(root, parents, false) else {
            return 0;
        };
        let listing = path_of(root, parents, None);
        let Ok(entries) = std::fs::read_dir(&listing) else {
            return 0;
        };
        let mut removed = 0;
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if !name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let Ok(c) = cstr(&name) else { continue };
            // SAFETY: valid descriptor and C string; unlinkat never follows a link.
            if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } == 0 {
                removed += 1;
            }
        }
        removed
    }

    pub fn make_dir(root: &Path, parents: &[String]) -> Result<()> {
        walk(root, parents, true).map(|_| ())
    }

    pub fn chown(root: &Path, parents: &[String], name: &str, uid: u32, gid: u32) -> Result<()> {
        let path = path_of(root, parents, Some(name));
        let dir = walk(root, parents, false)?.ok_or_else(|| unsafe_path(&path, "is missing"))?;
        let c = cstr(name).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        // SAFETY: valid descriptor and C string; AT_SYMLINK_NOFOLLOW changes a link itself.
        let rc = unsafe {
            libc::fchownat(
                dir.as_raw_fd(),
                c.as_ptr(),
                uid,
                gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(Error::Write {
                path,
                source: last_error(),
            });
        }
        Ok(())
    }

    pub fn open_lock(root: &Path, parents: &[String], name: &str) -> Result<std::fs::File> {
        let path = path_of(root, parents, Some(name));
        let dir = walk(root, parents, true)?.ok_or_else(|| unsafe_path(&path, "has no parent"))?;
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let fd = openat(dir.as_raw_fd(), name, flags, 0o600).map_err(|e| {
            if errno(&e) == libc::ELOOP {
                unsafe_path(
                    &path,
                    "is a symbolic link; onramp does not follow links inside the project",
                )
            } else {
                Error::Write {
                    path: path.clone(),
                    source: e,
                }
            }
        })?;
        let st = fstat(&fd).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        if !is_reg(&st) {
            return Err(unsafe_path(&path, "is not a regular file"));
        }
        Ok(std::fs::File::from(fd))
    }

    pub fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
    }
}

#[cfg(not(unix))]
mod sys {
    //! Without `openat`: each parent is looked at with `symlink_metadata` before use (a junction
    //! or symbolic link is refused), files are opened as themselves, never through a reparse
    //! point (`FILE_FLAG_OPEN_REPARSE_POINT`), and a replace that another program's open handle
    //! blocks is retried briefly, then refused with the reason.

    use std::path::{Path, PathBuf};

    use super::{Kind, TEMP_PREFIX, read_capped, temp_name, unsafe_path};
    use crate::errors::{Error, Result};

    /// Open the name itself, not what a link or junction there points at.
    #[cfg(windows)]
    fn no_follow(o: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
        use std::os::windows::fs::OpenOptionsExt;
        o.custom_flags(windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT)
    }

    #[cfg(not(windows))]
    fn no_follow(o: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
        o
    }

    const LINK: &str = "is a link or junction; onramp does not follow links inside the project";

    fn check(root: &Path, parents: &[String], create: bool) -> Result<Option<PathBuf>> {
        let mut p = root.to_path_buf();
        for c in parents {
            p.push(c);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => return Err(unsafe_path(&p, LINK)),
                Ok(m) if !m.is_dir() => return Err(unsafe_path(&p, "is not a directory")),
                Ok(_) => {}
                Err(_) if create => std::fs::create_dir(&p).map_err(|source| Error::Write {
                    path: p.clone(),
                    source,
                })?,
                Err(_) => return Ok(None),
            }
        }
        Ok(Some(p))
    }

    pub fn make_dir(root: &Path, parents: &[String]) -> Result<()> {
        check(root, parents, true).map(|_| ())
    }

    pub fn chown(root: &Path, parents: &[String], name: &str, _uid: u32, _gid: u32) -> Result<()> {
        let path = root.join(parents.join("/")).join(name);
        Err(unsafe_path(&path, "cannot change owners on this system"))
    }

    pub fn kind(root: &Path, parents: &[String], name: &str) -> Result<Kind> {
        let Some(dir) = check(root, parents, false)? else {
            return Ok(Kind::Missing);
        };
        Ok(match std::fs::symlink_metadata(dir.join(name)) {
            Ok(m) if m.is_file() => Kind::File { mode: 0o644 },
            Ok(_) => Kind::Other,
            Err(_) => Kind::Missing,
        })
    }

    /// Open a regular file as itself; a link there is refused, whatever it points at.
    fn open_regular(path: &Path, opts: &mut std::fs::OpenOptions) -> Result<std::fs::File> {
        let f = no_follow(opts).open(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let m = f.metadata().map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if m.file_type().is_symlink() {
            return Err(unsafe_path(path, LINK));
        }
        if !m.is_file() {
            return Err(unsafe_path(path, "is not a regular file"));
        }
        Ok(f)
    }

    pub fn read(root: &Path, parents: &[String], name: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        let Some(dir) = check(root, parents, false)? else {
            return Ok(None);
        };
        let path = dir.join(name);
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        let f = open_regular(&path, std::fs::OpenOptions::new().read(true))?;
        read_capped(f, &path, cap).map(Some)
    }

    pub fn set_mode(_root: &Path, _parents: &[String], _name: &str, _mode: u32) -> Result<()> {
        Ok(())
    }

    /// Whether an error is another handle on the file blocking a replace (access denied or a
    /// sharing violation: the holder did not allow deletion).
    fn held_open(e: &std::io::Error) -> bool {
        matches!(e.raw_os_error(), Some(5 | 32))
    }

    /// Move `tmp` onto `path`: replacing it (retried while another program briefly holds it,
    /// as a virus scanner or an indexer does), or, with `no_replace`, only if nothing is there
    /// (a hard link fails when the name exists; the temporary name is removed either way).
    fn commit(tmp: &Path, path: &Path, no_replace: bool) -> std::io::Result<bool> {
        if no_replace {
            return match std::fs::hard_link(tmp, path) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(e),
            };
        }
        let mut tries = 0;
        loop {
            match std::fs::rename(tmp, path) {
                Ok(()) => return Ok(true),
                Err(e) if held_open(&e) && tries < 40 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) if held_open(&e) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!(
                            "{e}; another program holds it open without allowing it to be replaced: close that program, then run onramp again"
                        ),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn write(
        root: &Path,
        parents: &[String],
        name: &str,
        bytes: &[u8],
        _mode: u32,
        no_replace: bool,
    ) -> Result<bool> {
        let dir = check(root, parents, true)?.unwrap_or_else(|| root.to_path_buf());
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(unsafe_path(&path, LINK)),
            Ok(_) if no_replace => return Ok(false),
            Ok(m) if !m.is_file() => return Err(unsafe_path(&path, "is not a regular file")),
            _ => {}
        }
        let tmp = dir.join(temp_name(name));
        let werr = |source| Error::Write {
            path: path.clone(),
            source,
        };
        write_temp(&tmp, bytes).map_err(werr)?;
        let r = commit(&tmp, &path, no_replace);
        let _ = std::fs::remove_file(&tmp);
        r.map_err(werr)
    }

    /// Create the temporary file exclusively, as itself (something already at that name, a
    /// link included, makes it fail), and write it through.
    pub(super) fn write_temp(tmp: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let mut f =
            no_follow(std::fs::OpenOptions::new().write(true).create_new(true)).open(tmp)?;
        let r = f.write_all(bytes).and_then(|_| f.sync_all());
        drop(f);
        if r.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        r
    }

    pub fn remove(root: &Path, parents: &[String], name: &str) -> Result<()> {
        if let Some(dir) = check(root, parents, false)? {
            let _ = std::fs::remove_file(dir.join(name));
        }
        Ok(())
    }

    pub fn list(root: &Path, parents: &[String]) -> Vec<String> {
        let Ok(Some(dir)) = check(root, parents, false) else {
            return Vec::new();
        };
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn clean_temps(root: &Path, parents: &[String]) -> usize {
        let Ok(Some(dir)) = check(root, parents, false) else {
            return 0;
        };
        std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
                    .filter(|e| std::fs::remove_file(e.path()).is_ok())
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn open_lock(root: &Path, parents: &[String], name: &str) -> Result<std::fs::File> {
        let dir = check(root, parents, true)?.unwrap_or_else(|| root.to_path_buf());
        let path = dir.join(name);
        open_regular(
            &path,
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true),
        )
        .map_err(|e| match e {
            Error::Read { path, source } => Error::Write { path, source },
            other => other,
        })
    }

    pub fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
        std::fs::File::open(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_only() {
        assert!(split("../x").is_none());
        assert!(split("/etc/x").is_none());
        assert!(split("").is_none());
        assert_eq!(split("./a/b").unwrap(), (vec!["a".to_string()], "b".into()));
    }

    #[cfg(unix)]
    #[test]
    fn links_below_the_root_are_refused_and_temps_are_exclusive() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        std::fs::write(out.path().join("key"), "secret").unwrap();
        symlink(out.path().join("key"), dir.path().join("k")).unwrap();
        symlink(out.path(), dir.path().join("d")).unwrap();
        assert!(matches!(root.read("k"), Err(Error::Unsafe { .. })));
        assert!(matches!(root.read("d/key"), Err(Error::Unsafe { .. })));
        assert!(matches!(
            root.write("d/new", b"x", 0o644),
            Err(Error::Unsafe { .. })
        ));
        assert!(matches!(
            root.write("k", b"x", 0o644),
            Err(Error::Unsafe { .. })
        ));
        assert_eq!(
            std::fs::read_to_string(out.path().join("key")).unwrap(),
            "secret"
        );
        assert!(!out.path().join("new").exists());
        root.write("sub/f", b"hi", 0o600).unwrap();
        let meta = std::fs::metadata(dir.path().join("sub/f")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert!(!root.create_new("sub/f", b"other", 0o600).unwrap());
        assert_eq!(root.read_text("sub/f").unwrap().unwrap(), "hi");
        std::fs::write(dir.path().join("sub").join(format!("{TEMP_PREFIX}x.f")), "").unwrap();
        assert_eq!(root.clean_temps("sub"), 1);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_and_devices_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read_regular(&fifo, FILE_CAP),
            Err(Error::Unsafe { .. })
        ));
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), FILE_CAP),
            Err(Error::Unsafe { .. })
        ));
    }

    // Wine cannot show the refusal of links and junctions: its CreateSymbolicLinkW reports
    // success and creates nothing, and it shows a Unix symlink as its target. Only a real
    // Windows machine exercises that path (see the README).
    #[cfg(windows)]
    #[test]
    fn windows_temps_are_exclusive_and_creates_never_replace() {
        let dir = tempfile::tempdir().unwrap();
        // Something already at the temporary name (a file, or a hard link to one elsewhere):
        // the exclusive create fails and leaves it alone.
        let out = tempfile::tempdir().unwrap();
        let victim = out.path().join("victim");
        std::fs::write(&victim, "outside").unwrap();
        let taken = dir.path().join(format!("{TEMP_PREFIX}x.f"));
        std::fs::hard_link(&victim, &taken).unwrap();
        let e = sys::write_temp(&taken, b"new").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "outside");
        // A plain write, then an exclusive create over it: refused, the first content kept.
        let root = Root::new(dir.path());
        root.write("sub/f", b"hi", 0o600).unwrap();
        root.write("sub/f", b"hello", 0o600).unwrap();
        assert!(!root.create_new("sub/f", b"other", 0o600).unwrap());
        assert!(root.create_new("sub/g", b"new", 0o600).unwrap());
        assert_eq!(root.read_text("sub/f").unwrap().unwrap(), "hello");
        assert_eq!(root.read_text("sub/g").unwrap().unwrap(), "new");
        assert_eq!(root.kind("sub/none").unwrap(), Kind::Missing);
        assert_eq!(root.clean_temps("sub"), 0);
        assert_eq!(root.clean_temps(""), 1);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "outside");
    }
}
