//! ContainerService: thin handlers over the container domain.

use std::future::Future;
use std::sync::Arc;

use berth_proto::node::v1::{
    attach_container_request, attach_container_response,
    container_service_server::ContainerService, copy_from_container_response,
    copy_to_container_request, exec_container_request, exec_container_response,
    AttachContainerRequest, AttachContainerResponse, CopyFromContainerRequest,
    CopyFromContainerResponse, CopyToContainerRequest, CopyToContainerResponse,
    CreateContainerRequest, CreateContainerResponse, ExecContainerRequest, ExecContainerResponse,
    ExitStatus, ExportContainerRequest, ExportContainerResponse, GetContainerRequest,
    GetContainerResponse, KillContainerRequest, KillContainerResponse, ListContainersRequest,
    ListContainersResponse, OutputFrame, PathStat, PauseContainerRequest, PauseContainerResponse,
    PruneContainersRequest, PruneContainersResponse, RemoveContainerRequest,
    RemoveContainerResponse, RenameContainerRequest, RenameContainerResponse,
    RestartContainerRequest, RestartContainerResponse, ResumeContainerRequest,
    ResumeContainerResponse, StartContainerRequest, StartContainerResponse, StopContainerRequest,
    StopContainerResponse, Stream, StreamContainerLogsRequest, StreamContainerLogsResponse,
    StreamContainerStatsRequest, StreamContainerStatsResponse, TerminalSize, TopContainerRequest,
    TopContainerResponse, UpdateContainerRequest, UpdateContainerResponse, WaitCondition,
    WaitContainerRequest, WaitContainerResponse,
};
use berth_shim::{IoEvent, IoSender, WinSize};
use tokio::sync::{mpsc, oneshot};
use tonic::{Request, Response, Status, Streaming};

use super::{
    record_container,
    streams::{from_channel, from_domain, BoxStream},
    Api,
};
use crate::{
    container::{AttachOutput, AttachSession, ContainerManager, ExecOutput},
    error::{DomainError, DomainResult},
    stream_io::CHUNK,
    time,
};

/// How many frames may wait for a slow attach or exec client.
const IO_BUFFER: usize = 32;

/// The ContainerService implementation.
pub struct ContainerApi {
    containers: Arc<ContainerManager>,
}

impl ContainerApi {
    pub(super) fn new(api: &Api) -> Self {
        Self {
            containers: Arc::clone(&api.containers),
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn ok<T>(value: T) -> Reply<T> {
    Ok(Response::new(value))
}

#[tonic::async_trait]
impl ContainerService for ContainerApi {
    async fn create_container(
        &self,
        request: Request<CreateContainerRequest>,
    ) -> Reply<CreateContainerResponse> {
        let (id, warnings) = self.containers.create(request.into_inner()).await?;
        record_container(&id);
        tracing::info!("created");
        ok(CreateContainerResponse { id, warnings })
    }

    async fn start_container(
        &self,
        request: Request<StartContainerRequest>,
    ) -> Reply<StartContainerResponse> {
        let req = container_request(request);
        self.containers.start(&req.id).await?;
        ok(StartContainerResponse {})
    }

    async fn stop_container(
        &self,
        request: Request<StopContainerRequest>,
    ) -> Reply<StopContainerResponse> {
        let req = container_request(request);
        self.containers
            .stop(&req.id, req.timeout_seconds, &req.signal)
            .await?;
        ok(StopContainerResponse {})
    }

    async fn kill_container(
        &self,
        request: Request<KillContainerRequest>,
    ) -> Reply<KillContainerResponse> {
        let req = container_request(request);
        self.containers.kill(&req.id, &req.signal).await?;
        ok(KillContainerResponse {})
    }

    async fn restart_container(
        &self,
        request: Request<RestartContainerRequest>,
    ) -> Reply<RestartContainerResponse> {
        let req = container_request(request);
        self.containers
            .restart(&req.id, req.timeout_seconds)
            .await?;
        ok(RestartContainerResponse {})
    }

    async fn pause_container(
        &self,
        request: Request<PauseContainerRequest>,
    ) -> Reply<PauseContainerResponse> {
        let req = container_request(request);
        self.containers.pause(&req.id).await?;
        ok(PauseContainerResponse {})
    }

    async fn resume_container(
        &self,
        request: Request<ResumeContainerRequest>,
    ) -> Reply<ResumeContainerResponse> {
        let req = container_request(request);
        self.containers.resume(&req.id).await?;
        ok(ResumeContainerResponse {})
    }

    async fn remove_container(
        &self,
        request: Request<RemoveContainerRequest>,
    ) -> Reply<RemoveContainerResponse> {
        let req = container_request(request);
        self.containers.remove(&req.id, req.force).await?;
        ok(RemoveContainerResponse {})
    }

    async fn get_container(
        &self,
        request: Request<GetContainerRequest>,
    ) -> Reply<GetContainerResponse> {
        let req = container_request(request);
        let container = self.containers.get(&req.id, req.size).await?;
        ok(GetContainerResponse {
            container: Some(container),
        })
    }

    async fn list_containers(
        &self,
        request: Request<ListContainersRequest>,
    ) -> Reply<ListContainersResponse> {
        let (containers, next_page_token) = self.containers.list(request.get_ref()).await?;
        ok(ListContainersResponse {
            containers,
            next_page_token,
        })
    }

    async fn wait_container(
        &self,
        request: Request<WaitContainerRequest>,
    ) -> Reply<WaitContainerResponse> {
        let req = container_request(request);
        let condition = WaitCondition::try_from(req.condition).map_err(|_| {
            Status::invalid_argument(format!("invalid wait condition {}", req.condition))
        })?;
        let (exit_code, error) = self.containers.wait(&req.id, condition).await?;
        ok(WaitContainerResponse { exit_code, error })
    }

    async fn rename_container(
        &self,
        request: Request<RenameContainerRequest>,
    ) -> Reply<RenameContainerResponse> {
        let req = container_request(request);
        self.containers.rename(&req.id, &req.new_name).await?;
        ok(RenameContainerResponse {})
    }

    async fn update_container(
        &self,
        request: Request<UpdateContainerRequest>,
    ) -> Reply<UpdateContainerResponse> {
        let req = container_request(request);
        let warnings = self
            .containers
            .update(&req.id, req.resources, req.restart_policy)
            .await?;
        ok(UpdateContainerResponse { warnings })
    }

    async fn top_container(
        &self,
        request: Request<TopContainerRequest>,
    ) -> Reply<TopContainerResponse> {
        let req = container_request(request);
        let processes = self.containers.top(&req.id).await?;
        ok(TopContainerResponse { processes })
    }

    async fn prune_containers(
        &self,
        request: Request<PruneContainersRequest>,
    ) -> Reply<PruneContainersResponse> {
        let (deleted, space_reclaimed) = self.containers.prune(&request.get_ref().filters).await?;
        ok(PruneContainersResponse {
            deleted,
            space_reclaimed,
        })
    }

    type StreamContainerLogsStream = BoxStream<StreamContainerLogsResponse>;

    async fn stream_container_logs(
        &self,
        request: Request<StreamContainerLogsRequest>,
    ) -> Reply<Self::StreamContainerLogsStream> {
        let req = container_request(request);
        let rx = self.containers.logs(req).await?;
        ok(from_domain(rx))
    }

    type StreamContainerStatsStream = BoxStream<StreamContainerStatsResponse>;

    async fn stream_container_stats(
        &self,
        request: Request<StreamContainerStatsRequest>,
    ) -> Reply<Self::StreamContainerStatsStream> {
        let req = container_request(request);
        let rx = self.containers.stats(&req.id, req.stream).await?;
        ok(from_domain(rx))
    }

    type AttachContainerStream = BoxStream<AttachContainerResponse>;

    async fn attach_container(
        &self,
        request: Request<Streaming<AttachContainerRequest>>,
    ) -> Reply<Self::AttachContainerStream> {
        let mut inbound = request.into_inner();
        let start = match inbound.message().await? {
            Some(AttachContainerRequest {
                request: Some(attach_container_request::Request::Start(start)),
            }) => start,
            _ => return Err(Status::invalid_argument("the first message must be start")),
        };
        record_container(&start.id);
        let pending = self.containers.begin_attach(start)?;
        let (tx, rx) = mpsc::channel(IO_BUFFER);
        // The response stream is returned at once; a created container's attach waits for
        // its start in this task (a client typically calls StartContainer next).
        tokio::spawn(async move {
            let session = match pending.connect().await {
                Ok(session) => session,
                Err(e) => {
                    let _ = tx.send(Err(Status::from(e))).await;
                    return;
                }
            };
            forward_attach(session, inbound, tx).await;
        });
        ok(from_channel(rx))
    }

    type ExecContainerStream = BoxStream<ExecContainerResponse>;

    async fn exec_container(
        &self,
        request: Request<Streaming<ExecContainerRequest>>,
    ) -> Reply<Self::ExecContainerStream> {
        let mut inbound = request.into_inner();
        let start = match inbound.message().await? {
            Some(ExecContainerRequest {
                request: Some(exec_container_request::Request::Start(start)),
            }) => start,
            _ => return Err(Status::invalid_argument("the first message must be start")),
        };
        record_container(&start.id);
        let detach = start.detach;
        let session = self.containers.exec(start).await?;
        let (tx, rx) = mpsc::channel(IO_BUFFER);
        if detach {
            // The process keeps running without the session; the stream ends at once.
            return ok(from_channel(rx));
        }
        let (output_done, done) = oneshot::channel();
        let classify = |m: ExecContainerRequest| match m.request {
            Some(exec_container_request::Request::Stdin(data)) => Input::Stdin(data),
            Some(exec_container_request::Request::CloseStdin(true)) => Input::Close,
            Some(exec_container_request::Request::Resize(size)) => Input::Resize(size),
            _ => Input::Ignore,
        };
        tokio::spawn(pump_input(inbound, session.input, classify, done));
        let output = session.output;
        tokio::spawn(async move {
            let _output_done = output_done;
            forward_output(output, &tx, exec_response).await;
        });
        ok(from_channel(rx))
    }

    async fn copy_to_container(
        &self,
        request: Request<Streaming<CopyToContainerRequest>>,
    ) -> Reply<CopyToContainerResponse> {
        let mut inbound = request.into_inner();
        let header = match inbound.message().await? {
            Some(CopyToContainerRequest {
                request: Some(copy_to_container_request::Request::Header(header)),
            }) => header,
            _ => return Err(Status::invalid_argument("the first message must be header")),
        };
        record_container(&header.id);
        let (tx, rx) = mpsc::channel(4);
        let pump = tokio::spawn(async move {
            while let Some(message) = inbound.message().await? {
                if let Some(copy_to_container_request::Request::Chunk(chunk)) = message.request {
                    if chunk.len() > CHUNK {
                        return Err(Status::invalid_argument("a chunk exceeds 1 MiB"));
                    }
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            }
            Ok(())
        });
        let result = self.containers.copy_to(&header, rx).await;
        let pumped = pump.await.map_err(|e| Status::internal(e.to_string()))?;
        pumped?;
        result?;
        ok(CopyToContainerResponse {})
    }

    type CopyFromContainerStream = BoxStream<CopyFromContainerResponse>;

    async fn copy_from_container(
        &self,
        request: Request<CopyFromContainerRequest>,
    ) -> Reply<Self::CopyFromContainerStream> {
        let req = container_request(request);
        let source = self.containers.copy_from(&req.id, &req.path).await?;
        let stat = PathStat {
            name: source.stat.name.clone(),
            size: i64::try_from(source.stat.size).unwrap_or(i64::MAX),
            mode: source.stat.mode,
            mtime: chrono::DateTime::from_timestamp(source.stat.mtime, 0).map(time::to_timestamp),
            link_target: source.stat.link_target.clone(),
        };
        let (tx, rx) = mpsc::channel(4);
        let mut chunks = source.chunks;
        tokio::spawn(async move {
            let first = CopyFromContainerResponse {
                response: Some(copy_from_container_response::Response::Stat(stat)),
            };
            if tx.send(Ok(first)).await.is_err() {
                return;
            }
            while let Some(chunk) = chunks.recv().await {
                let message = chunk
                    .map_err(Status::from)
                    .map(|data| CopyFromContainerResponse {
                        response: Some(copy_from_container_response::Response::Chunk(data)),
                    });
                if tx.send(message).await.is_err() {
                    return;
                }
            }
        });
        ok(from_channel(rx))
    }

    type ExportContainerStream = BoxStream<ExportContainerResponse>;

    async fn export_container(
        &self,
        request: Request<ExportContainerRequest>,
    ) -> Reply<Self::ExportContainerStream> {
        let req = container_request(request);
        let source = self.containers.copy_from(&req.id, "/").await?;
        let (tx, rx) = mpsc::channel(4);
        let mut chunks = source.chunks;
        tokio::spawn(async move {
            while let Some(chunk) = chunks.recv().await {
                let message = chunk
                    .map_err(Status::from)
                    .map(|chunk| ExportContainerResponse { chunk });
                if tx.send(message).await.is_err() {
                    return;
                }
            }
        });
        ok(from_channel(rx))
    }
}

/// A request about one container, named by its `id` field.
trait ContainerRequest {
    fn container_id(&self) -> &str;
}

macro_rules! container_requests {
    ($($request:ty),* $(,)?) => {
        $(impl ContainerRequest for $request {
            fn container_id(&self) -> &str {
                &self.id
            }
        })*
    };
}

container_requests!(
    StartContainerRequest,
    StopContainerRequest,
    KillContainerRequest,
    RestartContainerRequest,
    PauseContainerRequest,
    ResumeContainerRequest,
    RemoveContainerRequest,
    GetContainerRequest,
    WaitContainerRequest,
    RenameContainerRequest,
    UpdateContainerRequest,
    TopContainerRequest,
    StreamContainerLogsRequest,
    StreamContainerStatsRequest,
    CopyFromContainerRequest,
    ExportContainerRequest,
);

/// Unwraps a request and records its container in the request's tracing span.
fn container_request<T: ContainerRequest>(request: Request<T>) -> T {
    let req = request.into_inner();
    record_container(req.container_id());
    req
}

/// One client message of an attach or exec session.
enum Input {
    Stdin(Vec<u8>),
    Close,
    Resize(TerminalSize),
    Ignore,
}

/// Pumps one attach session: the client's input to the process, then the log replay and the
/// process's output (ending with its exit status) to the client.
async fn forward_attach(
    session: AttachSession,
    inbound: Streaming<AttachContainerRequest>,
    tx: mpsc::Sender<Result<AttachContainerResponse, Status>>,
) {
    let (_output_done, done) = oneshot::channel();
    if let Some(input) = session.input {
        let classify = |m: AttachContainerRequest| match m.request {
            Some(attach_container_request::Request::Stdin(data)) => Input::Stdin(data),
            Some(attach_container_request::Request::CloseStdin(true)) => Input::Close,
            Some(attach_container_request::Request::Resize(size)) => Input::Resize(size),
            _ => Input::Ignore,
        };
        tokio::spawn(pump_input(inbound, input, classify, done));
    }
    let mut replay = session.replay;
    while let Some(entry) = match replay.as_mut() {
        Some(replay) => replay.recv().await,
        None => None,
    } {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let _ = tx.send(Err(Status::from(e))).await;
                return;
            }
        };
        let stream = match entry.stream {
            berth_shim::logs::LogStream::Stdout => Stream::Stdout,
            berth_shim::logs::LogStream::Stderr => Stream::Stderr,
        };
        let frame = attach_container_response::Response::Output(OutputFrame {
            stream: stream.into(),
            data: entry.data,
        });
        let response = AttachContainerResponse {
            response: Some(frame),
        };
        if tx.send(Ok(response)).await.is_err() {
            return;
        }
    }
    forward_output(session.output, &tx, attach_response).await;
}

/// The output half of an attach or exec session.
trait SessionOutput {
    /// The next output; ends with `Exit`, then `None`.
    fn next(&mut self) -> impl Future<Output = DomainResult<Option<IoEvent>>> + Send;
}

impl SessionOutput for AttachOutput {
    fn next(&mut self) -> impl Future<Output = DomainResult<Option<IoEvent>>> + Send {
        AttachOutput::next(self)
    }
}

impl SessionOutput for ExecOutput {
    fn next(&mut self) -> impl Future<Output = DomainResult<Option<IoEvent>>> + Send {
        ExecOutput::next(self)
    }
}

/// Sends the process's output to the client, as `response` frames, until its exit status
/// (sent last), an error, or the client going away.
async fn forward_output<R>(
    mut output: impl SessionOutput,
    tx: &mpsc::Sender<Result<R, Status>>,
    response: fn(IoEvent) -> R,
) {
    loop {
        let event = tokio::select! {
            e = output.next() => e,
            () = tx.closed() => return,
        };
        let (response, last) = match event {
            Ok(Some(event)) => {
                let last = matches!(event, IoEvent::Exit(_));
                (Ok(response(event)), last)
            }
            Ok(None) => return,
            Err(e) => (Err(Status::from(e)), true),
        };
        if tx.send(response).await.is_err() || last {
            return;
        }
    }
}

/// Forwards the client's messages to the process until the client stops sending.
async fn pump_input<M>(
    mut inbound: Streaming<M>,
    mut input: IoSender,
    classify: fn(M) -> Input,
    output_done: oneshot::Receiver<()>,
) {
    loop {
        let message = match inbound.message().await {
            Ok(Some(message)) => message,
            Ok(None) | Err(_) => {
                // A client that half-closes its stream still reads the output: dropping the
                // sender now would end the shim session, so it lives until the output ends.
                let _ = output_done.await;
                return;
            }
        };
        let result = match classify(message) {
            Input::Stdin(data) => input.stdin(&data).await,
            Input::Close => input.close_stdin().await,
            Input::Resize(size) => {
                input
                    .resize(WinSize {
                        width: u16::try_from(size.width).unwrap_or(u16::MAX),
                        height: u16::try_from(size.height).unwrap_or(u16::MAX),
                    })
                    .await
            }
            Input::Ignore => Ok(()),
        };
        if let Err(e) = result {
            tracing::debug!(error = %DomainError::from(e), "forwarding input");
            return;
        }
    }
}

fn frame(event: IoEvent) -> Result<OutputFrame, ExitStatus> {
    match event {
        IoEvent::Stdout(data) => Ok(OutputFrame {
            stream: Stream::Stdout.into(),
            data,
        }),
        IoEvent::Stderr(data) => Ok(OutputFrame {
            stream: Stream::Stderr.into(),
            data,
        }),
        IoEvent::Exit(exit_code) => Err(ExitStatus {
            exit_code,
            error: String::new(),
        }),
    }
}

fn attach_response(event: IoEvent) -> AttachContainerResponse {
    use attach_container_response::Response;
    AttachContainerResponse {
        response: Some(match frame(event) {
            Ok(output) => Response::Output(output),
            Err(exit) => Response::Exit(exit),
        }),
    }
}

fn exec_response(event: IoEvent) -> ExecContainerResponse {
    use exec_container_response::Response;
    ExecContainerResponse {
        response: Some(match frame(event) {
            Ok(output) => Response::Output(output),
            Err(exit) => Response::Exit(exit),
        }),
    }
}
