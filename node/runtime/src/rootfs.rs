//! TEMPORARY interface stub until the rootfs branch merges.
#![allow(unused)]
use std::path::Path;
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("x")]
    X,
}
pub fn prepare(spec: &oci_spec::runtime::Spec, rootfs: &Path) -> Result<(), RootfsError> {
    Ok(())
}
pub fn pivot_and_finish(
    spec: &oci_spec::runtime::Spec,
    rootfs: &Path,
    no_pivot: bool,
) -> Result<(), RootfsError> {
    nix::unistd::chroot(rootfs).unwrap();
    nix::unistd::chdir("/").unwrap();
    Ok(())
}
pub fn bind_console(slave: &Path) -> Result<(), RootfsError> {
    Ok(())
}
