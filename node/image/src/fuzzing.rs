//! Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`, off by default):
//! the crate-private layer unpacker, reachable without widening the crate's API.

use std::path::Path;

use crate::tar_reader::{Limits, TarReader};
use crate::unpack::{self, Options};
use crate::ImageError;

/// Caps small enough that one fuzz input stays fast, large enough to reach every code path.
const FUZZ_LIMITS: Limits = Limits {
    entries: 4096,
    header_bytes: 64 << 10,
    total_bytes: 64 << 20,
};

/// Unpacks `tar` (an uncompressed layer) into the existing directory `root` as a layer
/// snapshot is unpacked: overlay whiteouts on, everything resolved inside `root`.
pub fn unpack_layer(tar: &[u8], root: &Path) -> Result<(), ImageError> {
    let root = pathrs::Root::open(root)
        .map_err(|e| ImageError::pathrs(format!("opening {}", root.display()), e))?;
    let mut reader = TarReader::new(tar, FUZZ_LIMITS);
    let options = Options {
        overlay_whiteouts: true,
        no_overwrite_dir_non_dir: false,
    };
    unpack::unpack(&root, Path::new("/"), &mut reader, options)?;
    reader.drain()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpacks_a_tar_and_refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        builder.append_data(&mut header, "a/b", &b"hi"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        unpack_layer(&tar, dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a/b")).unwrap(), b"hi");
        assert!(unpack_layer(&[0x55; 700], dir.path()).is_err());
    }
}
