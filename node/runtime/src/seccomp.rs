//! TEMPORARY interface stub until the seccomp branch merges.
#![allow(unused)]
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("x")]
    X,
}
#[derive(Debug)]
pub struct SeccompProgram;
pub fn compile(spec: &oci_spec::runtime::LinuxSeccomp) -> Result<SeccompProgram, SeccompError> {
    Ok(SeccompProgram)
}
impl SeccompProgram {
    pub fn install(&self) -> Result<(), SeccompError> {
        Ok(())
    }
}
pub fn docker_default_profile(
    caps: &[oci_spec::runtime::Capability],
) -> oci_spec::runtime::LinuxSeccomp {
    Default::default()
}
