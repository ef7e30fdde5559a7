//! Keeping the shim small while it idles. Creating and starting a container runs a lot of
//! code the serving loop never needs again (spec parsing, seccomp compilation, cgroup set-up),
//! and the kernel maps file pages generously around each fault. So after such work the shim
//! drops the resident pages of its read-only file mappings (code and constants, its own and
//! its libraries'); those the loop needs come back from the page cache at their next use.
//! Only pages still backed by the file are dropped: a page the process wrote (relocated data
//! made read-only afterwards) is private memory, and stays.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;

use anyhow::{Context, Result};

/// pagemap: the page is present in memory.
const PRESENT: u64 = 1 << 63;
/// pagemap: the page is swapped out.
const SWAPPED: u64 = 1 << 62;
/// pagemap: the page is a file page (or shared anonymous memory).
const FILE_PAGE: u64 = 1 << 61;

/// Drops the resident file pages of every read-only file mapping.
pub fn release_code() -> Result<()> {
    let maps = fs::read_to_string("/proc/self/maps").context("reading /proc/self/maps")?;
    let pagemap = File::open("/proc/self/pagemap").context("opening /proc/self/pagemap")?;
    // SAFETY: sysconf only reads a system constant.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    for (start, end) in maps.lines().filter_map(read_only_file_mapping) {
        for (from, to) in droppable_runs(&pagemap, start, end, page)? {
            // SAFETY: every page in the range is either not in memory or an unmodified page
            // of a private, read-only file mapping, so after MADV_DONTNEED it faults back in
            // identical from the file. The range lies inside a mapping of this process.
            let rc =
                unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_DONTNEED) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error()).context("releasing file pages");
            }
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    Ok(())
}

/// The range of a `/proc/self/maps` line that maps a file privately and read-only.
fn read_only_file_mapping(line: &str) -> Option<(usize, usize)> {
    // start-end perms offset dev inode [path]
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let perms = fields.next()?;
    let inode = fields.nth(2)?;
    if !(perms == "r-xp" || perms == "r--p") || inode == "0" {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some((
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    ))
}

/// The runs of pages in `start..end` that can be dropped: file pages, or nothing at all.
fn droppable_runs(
    pagemap: &File,
    start: usize,
    end: usize,
    page: usize,
) -> Result<Vec<(usize, usize)>> {
    let pages = (end - start) / page;
    let mut entries = vec![0u8; pages * 8];
    pagemap
        .read_exact_at(&mut entries, (start / page * 8) as u64)
        .context("reading /proc/self/pagemap")?;
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (index, entry) in entries.chunks_exact(8).enumerate() {
        let bits = u64::from_le_bytes(entry.try_into().unwrap_or_default());
        let droppable = if bits & PRESENT != 0 {
            bits & FILE_PAGE != 0
        } else {
            bits & SWAPPED == 0
        };
        if !droppable {
            continue;
        }
        let address = start + index * page;
        match runs.last_mut() {
            Some((_, run_end)) if *run_end == address => *run_end += page,
            _ => runs.push((address, address + page)),
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_file_mappings_are_selected() {
        let text = "55e5303dd000-55e5306ff000 r-xp 00122000 00:27 12142970   /berth-shim";
        assert_eq!(
            read_only_file_mapping(text),
            Some((0x55e5303dd000, 0x55e5306ff000))
        );
        let rodata = "55e5306ff000-55e53074a000 r--p 00443000 00:27 12142970   /berth-shim";
        assert!(read_only_file_mapping(rodata).is_some());
        for other in [
            "55e53074a000-55e53074c000 rw-p 0048d000 00:27 12142970   /berth-shim",
            "7ffd0000-7ffd2000 r-xp 00000000 00:00 0                  [vdso]",
        ] {
            assert_eq!(read_only_file_mapping(other), None, "{other}");
        }
    }

    #[test]
    fn code_and_relocated_data_still_work_after_release() {
        // A trait object's vtable pointer lives in relocated read-only data.
        let shown: Box<dyn std::fmt::Display> = Box::new(42);
        release_code().unwrap();
        assert_eq!(shown.to_string(), "42");
        assert_eq!(format!("{:?}", vec![Some("x")]), "[Some(\"x\")]");
    }
}
