//! `linux.resources` before libcgroups sees it: refuse what is malformed or unsafe before
//! anything is created, and drop, with a warning, the limits this kernel has no file for
//! (kernel memory on recent kernels, realtime without RT group scheduling, hugetlb without
//! the controller, block I/O weight without a proportional I/O scheduler). libcgroups would
//! otherwise fail the whole container on the missing file.
//!
//! Berth writes `unified` itself, after libcgroups: libcgroups' v2 apply writes it only after
//! loading its device program, which fails where RLIMIT_MEMLOCK cannot be raised.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::hierarchy::Hierarchy;
use super::CgroupError;

/// Files the runtime manages itself; `unified` must not write them.
const RUNTIME_FILES: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.freeze",
    "cgroup.kill",
    "cgroup.type",
];

/// What the kernel offers in the container's cgroup, asked once the cgroup exists.
pub(super) trait KernelSupport {
    /// Whether the container's cgroup in `controller`'s hierarchy has `file`.
    fn has_file(&self, controller: &str, file: &str) -> bool;
    /// Whether `controller` is available to the container's cgroup.
    fn has_controller(&self, controller: &str) -> bool;
}

/// Refuses requests libcgroups would turn into writes outside the cgroup or silently ignore.
pub(super) fn check(resources: &LinuxResources, hierarchy: &Hierarchy) -> Result<(), CgroupError> {
    for limit in resources.hugepage_limits().iter().flatten() {
        // libcgroups puts the page size into a file name.
        if !is_page_size(limit.page_size()) {
            return Err(CgroupError::InvalidResource(format!(
                "hugepage size {:?} is not like \"2MB\"",
                limit.page_size()
            )));
        }
    }
    let unified = resources.unified().iter().flatten();
    if matches!(hierarchy, Hierarchy::V1(_)) && unified.clone().next().is_some() {
        return Err(CgroupError::InvalidResource(
            "linux.resources.unified needs cgroup v2, and this host runs v1".into(),
        ));
    }
    for (key, _) in unified {
        let plain = key
            .split_once('.')
            .is_some_and(|(c, p)| !c.is_empty() && !p.is_empty() && !key.contains(['/', '\0']));
        if !plain || RUNTIME_FILES.contains(&key.as_str()) {
            return Err(CgroupError::InvalidResource(format!(
                "unified key {key:?} is not a controller.parameter file the container may set"
            )));
        }
    }
    Ok(())
}

/// A page size as the hugetlb files spell it: digits and KB, MB or GB.
fn is_page_size(size: &str) -> bool {
    let digits = size.trim_end_matches(['K', 'M', 'G', 'B']);
    let unit = &size[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["KB", "MB", "GB"].contains(&unit)
}

/// The part of `resources` libcgroups should apply here. Devices and `unified` are left out:
/// Berth writes its own allow list (see `devices`) and [`write_unified`].
pub(super) fn supported(resources: &LinuxResources, kernel: &impl KernelSupport) -> LinuxResources {
    let mut supported = resources.clone();
    supported.set_devices(None);
    supported.set_unified(None);

    if let Some(mut memory) = *resources.memory() {
        if memory.kernel().is_some() && !kernel.has_file("memory", "memory.kmem.limit_in_bytes") {
            ignored("memory.kernel");
            memory.set_kernel(None);
        }
        if memory.kernel_tcp().is_some()
            && !kernel.has_file("memory", "memory.kmem.tcp.limit_in_bytes")
        {
            ignored("memory.kernelTCP");
            memory.set_kernel_tcp(None);
        }
        let has_swap = kernel.has_file("memory", "memory.memsw.limit_in_bytes")
            || kernel.has_file("memory", "memory.swap.max");
        if memory.swap().is_some() && !has_swap {
            ignored("memory.swap");
            memory.set_swap(None);
        }
        supported.set_memory(Some(memory));
    }

    if let Some(mut cpu) = resources.cpu().clone() {
        let realtime = cpu.realtime_runtime().is_some() || cpu.realtime_period().is_some();
        if realtime && !kernel.has_file("cpu", "cpu.rt_runtime_us") {
            ignored("cpu.realtimeRuntime and cpu.realtimePeriod");
            cpu.set_realtime_runtime(None);
            cpu.set_realtime_period(None);
        }
        supported.set_cpu(Some(cpu));
    }

    let wants_hugetlb = resources
        .hugepage_limits()
        .as_ref()
        .is_some_and(|l| !l.is_empty());
    if wants_hugetlb && !kernel.has_controller("hugetlb") {
        ignored("hugepageLimits");
        supported.set_hugepage_limits(None);
    }

    if let Some(mut block_io) = resources.block_io().clone() {
        let has_weight = [
            "blkio.weight",
            "blkio.bfq.weight",
            "io.weight",
            "io.bfq.weight",
        ]
        .iter()
        .any(|file| kernel.has_file("blkio", file));
        if block_io.weight().is_some() && !has_weight {
            ignored("blockIO.weight");
            block_io.set_weight(None);
        }
        // libcgroups 0.7 converts this weight for io.weight in u16 arithmetic, which overflows
        // (a panic, or a wrong weight in release builds); `write_io_weight` does it instead.
        if needs_io_weight_conversion(kernel) {
            block_io.set_weight(None);
        }
        if block_io.leaf_weight().is_some() && !kernel.has_file("blkio", "blkio.leaf_weight") {
            ignored("blockIO.leafWeight");
            block_io.set_leaf_weight(None);
        }
        supported.set_block_io(Some(block_io));
    }
    supported
}

/// Whether the blkio weight must become a v2 `io.weight` (no BFQ scheduler weight file).
fn needs_io_weight_conversion(kernel: &impl KernelSupport) -> bool {
    kernel.has_file("blkio", "io.weight") && !kernel.has_file("blkio", "io.bfq.weight")
}

/// Maps a cgroup v1 blkio weight (10..=1000) onto the v2 io.weight range (1..=10000),
/// linearly, as runc does.
fn io_weight_from_blkio(weight: u16) -> u32 {
    1 + u32::from(weight.clamp(10, 1000) - 10) * 9999 / 990
}

/// Writes `blockIO.weight` as a v2 `io.weight` where [`supported`] held it back from libcgroups.
pub(super) fn write_io_weight(
    dir: &Path,
    resources: &LinuxResources,
    kernel: &impl KernelSupport,
) -> Result<(), CgroupError> {
    let weight = resources.block_io().as_ref().and_then(|b| b.weight());
    match weight {
        Some(weight) if weight > 0 && needs_io_weight_conversion(kernel) => {
            libcgroups::common::write_cgroup_file(
                dir.join("io.weight"),
                io_weight_from_blkio(weight),
            )?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Writes the v2 `unified` entries (checked by [`check`]) into the cgroup at `dir`.
pub(super) fn write_unified(dir: &Path, resources: &LinuxResources) -> Result<(), CgroupError> {
    for (file, value) in resources.unified().iter().flatten() {
        libcgroups::common::write_cgroup_file_str(dir.join(file), value)?;
    }
    Ok(())
}

fn ignored(what: &str) {
    tracing::warn!("{what}: this kernel has no cgroup file for it; ignored");
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxHugepageLimitBuilder,
        LinuxMemoryBuilder, LinuxResourcesBuilder,
    };

    use super::*;

    /// A kernel with exactly the listed files and controllers.
    struct Kernel {
        files: &'static [&'static str],
        controllers: &'static [&'static str],
    }

    #[test]
    fn blkio_weights_map_onto_the_io_weight_range() {
        // Regression: libcgroups' u16 arithmetic overflowed for any weight above 16.
        assert_eq!(io_weight_from_blkio(10), 1);
        assert_eq!(io_weight_from_blkio(500), 4950);
        assert_eq!(io_weight_from_blkio(1000), 10000);
        assert_eq!(io_weight_from_blkio(u16::MAX), 10000);
        assert_eq!(io_weight_from_blkio(1), 1);
    }

    impl KernelSupport for Kernel {
        fn has_file(&self, _controller: &str, file: &str) -> bool {
            self.files.contains(&file)
        }
        fn has_controller(&self, controller: &str) -> bool {
            self.controllers.contains(&controller)
        }
    }

    fn everything() -> LinuxResources {
        LinuxResourcesBuilder::default()
            .devices(vec![LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap()])
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1 << 30)
                    .swap(2i64 << 30)
                    .kernel(1 << 20)
                    .kernel_tcp(1 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .realtime_runtime(1000i64)
                    .realtime_period(10000u64)
                    .build()
                    .unwrap(),
            )
            .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                .page_size("2MB")
                .limit(1i64 << 21)
                .build()
                .unwrap()])
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(500u16)
                    .leaf_weight(300u16)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn a_kernel_with_every_file_keeps_everything_but_devices_and_unified() {
        let kernel = Kernel {
            files: &[
                "memory.kmem.limit_in_bytes",
                "memory.kmem.tcp.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                "cpu.rt_runtime_us",
                "blkio.weight",
                "blkio.leaf_weight",
            ],
            controllers: &["hugetlb"],
        };
        let mut requested = everything();
        requested.set_unified(Some(HashMap::from([("memory.high".into(), "max".into())])));
        let mut expected = everything();
        expected.set_devices(None);
        assert_eq!(supported(&requested, &kernel), expected);
    }

    #[test]
    fn missing_files_drop_only_their_limits() {
        let kernel = Kernel {
            files: &[],
            controllers: &[],
        };
        let kept = supported(&everything(), &kernel);
        let memory = kept.memory().unwrap();
        assert_eq!(memory.limit(), Some(1 << 30));
        assert_eq!(
            (memory.kernel(), memory.kernel_tcp(), memory.swap()),
            (None, None, None)
        );
        let cpu = kept.cpu().clone().unwrap();
        assert_eq!(cpu.shares(), Some(512));
        assert_eq!(
            (cpu.realtime_runtime(), cpu.realtime_period()),
            (None, None)
        );
        assert_eq!(kept.hugepage_limits(), &None);
        let block_io = kept.block_io().clone().unwrap();
        assert_eq!((block_io.weight(), block_io.leaf_weight()), (None, None));
        assert_eq!(kept.devices(), &None);
    }

    #[test]
    fn malformed_page_sizes_are_refused() {
        let v1 = Hierarchy::V1(Vec::new());
        assert!(check(&everything(), &v1).is_ok());
        for bad in ["2MB/../../x", "MB", "2XB", "2 MB", ""] {
            let mut resources = everything();
            resources.set_hugepage_limits(Some(vec![LinuxHugepageLimitBuilder::default()
                .page_size(bad)
                .limit(1)
                .build()
                .unwrap()]));
            assert!(
                matches!(check(&resources, &v1), Err(CgroupError::InvalidResource(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn unified_keys_must_be_plain_files_and_need_v2() {
        let v2 = Hierarchy::V2 {
            root: "/sys/fs/cgroup".into(),
        };
        let with = |key: &str| {
            let mut resources = LinuxResources::default();
            resources.set_unified(Some(HashMap::from([(key.to_owned(), "1".to_owned())])));
            resources
        };
        assert!(check(&with("memory.high"), &v2).is_ok());
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "memory/x.y",
            "cgroup.procs",
            "nodot",
            ".x",
        ] {
            let err = check(&with(bad), &v2).unwrap_err();
            assert!(err.to_string().contains("unified key"), "{bad}: {err}");
        }
        let err = check(&with("memory.high"), &Hierarchy::V1(Vec::new())).unwrap_err();
        assert!(err.to_string().contains("needs cgroup v2"), "{err}");
    }
}
