//! Response streams: bounded channels whose sending task ends when the client goes away.

use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_stream::{wrappers::ReceiverStream, Stream, StreamExt};
use tonic::Status;

use crate::error::DomainResult;

/// A boxed response stream.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// A response stream from a channel of domain results.
pub fn from_domain<T: Send + 'static>(rx: mpsc::Receiver<DomainResult<T>>) -> BoxStream<T> {
    Box::pin(ReceiverStream::new(rx).map(|item| item.map_err(Status::from)))
}

/// A response stream from a channel of gRPC results.
pub fn from_channel<T: Send + 'static>(rx: mpsc::Receiver<Result<T, Status>>) -> BoxStream<T> {
    Box::pin(ReceiverStream::new(rx))
}
