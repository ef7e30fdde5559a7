//! Berth's public gRPC API, generated from `proto/berth/node/v1/*.proto`.
//!
//! Clients in other languages generate their stubs from the same files.

/// `berth.node.v1`: containers, images and system services of one node.
pub mod node {
    /// Version 1 of the node API.
    pub mod v1 {
        #![allow(clippy::doc_lazy_continuation, clippy::large_enum_variant)]
        tonic::include_proto!("berth.node.v1");

        /// The encoded `FileDescriptorSet` of the API, for gRPC server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            tonic::include_file_descriptor_set!("berth_descriptor");

        impl ContainerStatus {
            /// Docker's lower-case name of the status (`docker ps --filter status=`,
            /// `.State.Status`); `unknown` when unset.
            pub fn docker_name(self) -> &'static str {
                match self {
                    Self::Unspecified => "unknown",
                    Self::Created => "created",
                    Self::Running => "running",
                    Self::Paused => "paused",
                    Self::Restarting => "restarting",
                    Self::Removing => "removing",
                    Self::Exited => "exited",
                    Self::Dead => "dead",
                }
            }
        }
    }
}

pub mod transport;
