//! Whether a host port is free, and who holds it when it is not (Windows: the OS's TCP table;
//! Linux: `/proc/net/tcp*` and `/proc/*/fd`).

use std::net::{IpAddr, TcpListener};

use crate::host::{Host, TcpRow};

/// The process listening on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
}

/// `Ok` when the address can be bound now; the bind error otherwise.
pub fn try_bind(ip: IpAddr, port: u16) -> std::io::Result<()> {
    TcpListener::bind((ip, port)).map(drop)
}

/// Socket inodes of listeners on `port` in `/proc/net/tcp` or `tcp6` text.
pub fn listening_inodes(proc_net_tcp: &str, port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    proc_net_tcp
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?.parse::<u64>().ok()?;
            let (_, hex_port) = local.rsplit_once(':')?;
            let p = u16::from_str_radix(hex_port, 16).ok()?;
            (p == port && *state == LISTEN && inode != 0).then_some(inode)
        })
        .collect()
}

/// Owners of the listening sockets on `port` among Windows' TCP rows (`MIB_TCP_STATE_LISTEN` is
/// 2; the port is in network byte order in the low 16 bits).
pub fn listening_pids(rows: &[TcpRow], port: u16) -> Vec<u32> {
    const LISTEN: u32 = 2;
    rows.iter()
        .filter(|r| r.state == LISTEN && u16::from_be(r.local_port as u16) == port)
        .map(|r| r.pid)
        .collect()
}

/// Find the process holding a listening port: from the OS's table where it keeps one
/// (Windows), otherwise where `/proc` allows it.
pub fn holder(host: &Host, port: u16) -> Option<Holder> {
    if let Some(&pid) = listening_pids(&host.tcp_listeners(), port).first() {
        let command = host.process_name(pid).unwrap_or_else(|| "?".into());
        return Some(Holder { pid, command });
    }
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| host.sys_read(p))
        .flat_map(|t| listening_inodes(&t, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for pid in host.sys_list("/proc") {
        let Ok(pid_num) = pid.parse::<u32>() else {
            continue;
        };
        let fd_dir = format!("/proc/{pid}/fd");
        let holds = host.sys_list(&fd_dir).iter().any(|fd| {
            host.sys_read_link(&format!("{fd_dir}/{fd}"))
                .is_some_and(|l| wanted.contains(&l))
        });
        if holds {
            let command = host
                .sys_read(&format!("/proc/{pid}/comm"))
                .map(|c| c.trim().to_string())
                .unwrap_or_else(|| "?".into());
            return Some(Holder {
                pid: pid_num,
                command,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from /proc/net/tcp on Debian 12 with postgres listening on 127.0.0.1:5432.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1538 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000   105        0 0 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn listeners_are_found_by_port_and_state() {
        assert_eq!(listening_inodes(TCP, 5432), vec![31337]);
        assert!(listening_inodes(TCP, 6379).is_empty());
    }

    // Recorded from GetExtendedTcpTable (TCP_TABLE_OWNER_PID_LISTENER) with postgres (pid 4242)
    // on 0.0.0.0:5432 and svchost (pid 1088) on 135: dwLocalPort 0x3815 is 5432 byte-swapped.
    const ROWS: &[TcpRow] = &[
        TcpRow {
            state: 2,
            local_port: 0x8700,
            pid: 1088,
        },
        TcpRow {
            state: 2,
            local_port: 0x3815,
            pid: 4242,
        },
        TcpRow {
            state: 5,
            local_port: 0xEB18,
            pid: 77,
        },
    ];

    #[test]
    fn windows_listeners_are_found_by_port_in_network_order() {
        assert_eq!(listening_pids(ROWS, 5432), vec![4242]);
        assert_eq!(listening_pids(ROWS, 135), vec![1088]);
        // 0xEB18 is port 6379 but the socket is established, not listening.
        assert!(listening_pids(ROWS, 6379).is_empty());
        // Read without the byte swap, the row would claim port 0x3815 (14357).
        assert!(listening_pids(ROWS, 0x3815).is_empty());
    }

    #[test]
    fn a_held_port_names_this_process() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(try_bind("127.0.0.1".parse().unwrap(), port).is_err());
        let h = holder(&Host::from_process(), port).expect("holder found");
        assert_eq!(h.pid, std::process::id());
        drop(listener);
        assert!(try_bind("127.0.0.1".parse().unwrap(), port).is_ok());
    }
}
