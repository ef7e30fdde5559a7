//! The hardened layer unpacker on arbitrary bytes: it may refuse, never panic, hang or write
//! outside its root.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let scratch = tempfile::tempdir().expect("a temporary directory for the fuzz root");
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).expect("creating the fuzz root");
    let _ = berth_image::fuzzing::unpack_layer(data, &root);
    // Everything the unpacker made is under `scratch/root`; anything else is an escape.
    let entries: Vec<_> = std::fs::read_dir(scratch.path())
        .expect("listing the scratch directory")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        entries,
        [std::ffi::OsString::from("root")],
        "wrote outside the root"
    );
});
