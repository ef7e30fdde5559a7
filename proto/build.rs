//! Generates the Rust client and server code for `berth.node.v1`, plus a descriptor set that
//! the daemon serves through gRPC reflection.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "berth/node/v1/common.proto",
    "berth/node/v1/containers.proto",
    "berth/node/v1/images.proto",
    "berth/node/v1/system.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("berth_descriptor.bin"))
        .compile_protos(PROTOS, &["."])?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
