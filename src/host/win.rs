//! Windows-only host facts through the Win32 API: free space of a volume, TCP listeners and
//! their owning processes, whether a named pipe exists.

use std::ffi::OsStr;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use windows_sys::Win32::Foundation::{ERROR_INSUFFICIENT_BUFFER, ERROR_SEM_TIMEOUT, GetLastError};
use windows_sys::Win32::NetworkManagement::IpHelper::{
    GetExtendedTcpTable, MIB_TCP6ROW_OWNER_PID, MIB_TCPROW_OWNER_PID, TCP_TABLE_OWNER_PID_LISTENER,
};
use windows_sys::Win32::Networking::WinSock::{AF_INET, AF_INET6};
use windows_sys::Win32::Storage::FileSystem::{GetDiskFreeSpaceExW, GetVolumePathNameW};
use windows_sys::Win32::System::Pipes::WaitNamedPipeW;

use super::TcpRow;

fn wide(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain(std::iter::once(0)).collect()
}

/// The volume's root (`C:\`) holding `path` and the bytes free there for this user.
pub fn volume_free(path: &Path) -> Option<(PathBuf, u64)> {
    let name = wide(path.as_os_str());
    let mut root = vec![0u16; 1024];
    let len = u32::try_from(root.len()).ok()?;
    // SAFETY: `name` is NUL-terminated; `root` is a writable buffer of `len` UTF-16 units.
    if unsafe { GetVolumePathNameW(name.as_ptr(), root.as_mut_ptr(), len) } == 0 {
        return None;
    }
    let end = root.iter().position(|&c| c == 0).unwrap_or(root.len());
    root.truncate(end);
    let mut free = 0u64;
    // SAFETY: `name` is NUL-terminated; the out-pointers are valid or null (allowed).
    let ok = unsafe {
        GetDiskFreeSpaceExW(
            name.as_ptr(),
            &mut free,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    (ok != 0).then(|| (PathBuf::from(std::ffi::OsString::from_wide(&root)), free))
}

/// Listening TCP sockets (IPv4 and IPv6) with their owning process ids.
pub fn tcp_listeners() -> Vec<TcpRow> {
    let mut rows = Vec::new();
    if let Some(buf) = tcp_table(AF_INET) {
        rows.extend(
            table_rows::<MIB_TCPROW_OWNER_PID>(&buf)
                .iter()
                .map(|r| TcpRow {
                    state: r.dwState,
                    local_port: r.dwLocalPort,
                    pid: r.dwOwningPid,
                }),
        );
    }
    if let Some(buf) = tcp_table(AF_INET6) {
        rows.extend(
            table_rows::<MIB_TCP6ROW_OWNER_PID>(&buf)
                .iter()
                .map(|r| TcpRow {
                    state: r.dwState,
                    local_port: r.dwLocalPort,
                    pid: r.dwOwningPid,
                }),
        );
    }
    rows
}

/// The raw `MIB_TCP(6)TABLE_OWNER_PID` for one address family, in a u32-aligned buffer.
fn tcp_table(family: u16) -> Option<Vec<u32>> {
    let mut size = 0u32;
    for _ in 0..4 {
        let mut buf = vec![0u32; (size as usize).div_ceil(4).max(1)];
        // SAFETY: `buf` holds at least `size` bytes; `size` is updated when it is too small.
        let rc = unsafe {
            GetExtendedTcpTable(
                buf.as_mut_ptr().cast(),
                &mut size,
                0,
                u32::from(family),
                TCP_TABLE_OWNER_PID_LISTENER,
                0,
            )
        };
        if rc == 0 {
            return Some(buf);
        }
        if rc != ERROR_INSUFFICIENT_BUFFER {
            return None;
        }
    }
    None
}

/// The rows of a table whose first u32 is the row count, rows following (both row types are
/// made of u32s and byte arrays, so u32 alignment holds).
fn table_rows<T: Copy>(buf: &[u32]) -> Vec<T> {
    let Some(&count) = buf.first() else {
        return Vec::new();
    };
    let room = (buf.len() - 1) * 4 / std::mem::size_of::<T>();
    let count = (count as usize).min(room);
    // SAFETY: the rows start right after the count (offset 4, u32-aligned, which is T's
    // alignment) and `count` rows fit in the buffer.
    let first = unsafe { buf.as_ptr().add(1).cast::<T>() };
    (0..count)
        // SAFETY: each index is below `count`, within the buffer.
        .map(|i| unsafe { std::ptr::read_unaligned(first.add(i)) })
        .collect()
}

/// Whether a named pipe exists (`\\.\pipe\NAME`), without connecting to it.
pub fn pipe_exists(name: &str) -> bool {
    let path = wide(OsStr::new(&format!(r"\\.\pipe\{name}")));
    // SAFETY: `path` is NUL-terminated. A 1 ms wait: an instance is free (success) or all are
    // busy (a timeout); a missing pipe fails with "file not found".
    if unsafe { WaitNamedPipeW(path.as_ptr(), 1) } != 0 {
        return true;
    }
    // SAFETY: reads the calling thread's last error.
    unsafe { GetLastError() == ERROR_SEM_TIMEOUT }
}

/// The executable name of a running process.
pub fn process_name(pid: u32) -> Option<String> {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    let pid = Pid::from_u32(pid);
    let mut sys = System::new().ok()?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        true,
        ProcessRefreshKind::nothing(),
    );
    sys.process(pid)
        .map(|p| p.name().to_string_lossy().into_owned())
}

/// The product name and build number the OS reports (`Windows 10 Pro`, `19045`).
pub fn windows_version() -> Option<(String, String)> {
    use sysinfo::System;
    let build = System::kernel_version().ok()?;
    let name = System::long_os_version().unwrap_or_else(|_| "Windows".into());
    Some((name, build))
}
