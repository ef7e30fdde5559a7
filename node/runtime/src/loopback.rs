//! Brings `lo` up in a network namespace the container created, as Docker does for
//! `--network none`: a fresh namespace has its loopback interface down, so even 127.0.0.1
//! would be unreachable.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use oci_spec::runtime::LinuxNamespaceType;

use crate::error::{Context, Result};
use crate::namespaces::NamespacePlan;

/// Sets `lo` up when `plan` creates a new network namespace (a joined one is left as it is).
/// Must run in the container's network namespace, before the capabilities are dropped.
pub fn bring_up_if_new(plan: &NamespacePlan) -> Result<()> {
    if !plan.creates(LinuxNamespaceType::Network) {
        return Ok(());
    }
    bring_up()
}

/// `SIOCGIFFLAGS` then `SIOCSIFFLAGS` with `IFF_UP` on an `AF_INET` datagram socket: the
/// smallest interface the kernel offers for this, without a netlink conversation.
fn bring_up() -> Result<()> {
    let sock = inet_socket()?;
    let mut request = loopback_request();
    request.ifr_ifru.ifru_flags = flags(&sock)? | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS only reads the name and flags from `request`, which outlives the call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &request) };
    Errno::result(rc).context(|| "setting lo up".into())?;
    Ok(())
}

fn inet_socket() -> Result<OwnedFd> {
    socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context(|| "opening a socket to bring lo up".into())
}

/// The interface flags of `lo` in the calling thread's network namespace.
fn flags(sock: &OwnedFd) -> Result<libc::c_short> {
    let mut request = loopback_request();
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into `request`, a properly
    // sized ifreq that lives for the whole call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS as _, &mut request) };
    Errno::result(rc).context(|| "reading the flags of lo".into())?;
    // SAFETY: SIOCGIFFLAGS succeeded, so the kernel filled the union's flags member.
    Ok(unsafe { request.ifr_ifru.ifru_flags })
}

/// An `ifreq` naming `lo`, with zeroed data.
fn loopback_request() -> libc::ifreq {
    // SAFETY: ifreq is plain old data (a name array and a union of integers and sockaddrs), for
    // which all zero bytes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo") {
        *dst = *src as libc::c_char;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo_is_up() -> bool {
        let sock = inet_socket().unwrap();
        flags(&sock).unwrap() & libc::IFF_UP as libc::c_short != 0
    }

    #[test]
    fn brings_lo_up_in_a_fresh_network_namespace() {
        // The network namespace is per thread, so a scratch thread keeps the test process's.
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            assert!(!lo_is_up(), "a new network namespace starts with lo down");
            bring_up().unwrap();
            assert!(lo_is_up());
            // Idempotent: a second call keeps it up.
            bring_up().unwrap();
            assert!(lo_is_up());
        })
        .join()
        .unwrap();
    }
}
