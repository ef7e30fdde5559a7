//! berthd: the node daemon. gRPC handlers stay thin (validate, call the domain, map errors);
//! the domain modules know nothing about tonic.

pub mod spec;
