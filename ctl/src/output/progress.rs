//! Per-layer progress of `pull` and `push`, drawn as Docker draws it: one progress bar per
//! layer on a terminal, and one line per change of state when the output is not a terminal.

use std::io::{IsTerminal, Write};

use berth_proto::node::v1::{LayerProgress, LayerState};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tonic::Streaming;

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// Registry → store.
    Pull,
    /// Store → registry.
    Push,
}

/// Where the progress goes: stdout for `pull`/`push`, stderr for `run`, whose stdout belongs
/// to the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The progress display of one transfer.
pub struct ProgressView {
    transfer: Transfer,
    stream: Stream,
    /// `Some` on a terminal.
    bars: Option<MultiProgress>,
    layers: Vec<Layer>,
}

struct Layer {
    digest: String,
    state: LayerState,
    bar: Option<ProgressBar>,
}

impl ProgressView {
    /// A display on `stream`, with bars when it is a terminal.
    pub fn new(transfer: Transfer, stream: Stream) -> ProgressView {
        let bars = match stream {
            Stream::Stdout if std::io::stdout().is_terminal() => {
                Some(MultiProgress::with_draw_target(ProgressDrawTarget::stdout()))
            }
            Stream::Stderr if std::io::stderr().is_terminal() => {
                Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
            }
            _ => None,
        };
        ProgressView {
            transfer,
            stream,
            bars,
            layers: Vec::new(),
        }
    }

    /// Shows one progress message.
    pub fn update(&mut self, progress: &LayerProgress) {
        let state = LayerState::try_from(progress.state).unwrap_or(LayerState::Unspecified);
        let index = match self.layers.iter().position(|l| l.digest == progress.digest) {
            Some(index) => index,
            None => {
                let bar = self.bars.as_ref().map(|bars| {
                    // Styled before it is added, so that it is never drawn as a bare bar.
                    let bar = bars.add(ProgressBar::new(0).with_style(text_style()));
                    bar.set_prefix(short_digest(&progress.digest).to_string());
                    bar
                });
                self.layers.push(Layer {
                    digest: progress.digest.clone(),
                    state: LayerState::Unspecified,
                    bar,
                });
                self.layers.len() - 1
            }
        };
        let transfer = self.transfer;
        let layer = &mut self.layers[index];
        let previous = layer.state;
        layer.state = state;
        match &layer.bar {
            Some(bar) => draw(bar, transfer, state, progress),
            None => {
                if let Some(line) = plain_line(transfer, previous, progress) {
                    self.line(&line);
                }
            }
        }
    }

    /// Leaves the bars as they are and returns the terminal for the lines that follow.
    pub fn finish(self) {
        for layer in &self.layers {
            if let Some(bar) = &layer.bar {
                bar.finish();
            }
        }
    }

    fn line(&self, line: &str) {
        // A reader that went away (a closed pipe) is not worth failing the transfer for.
        let _ = match self.stream {
            Stream::Stdout => writeln!(std::io::stdout(), "{line}"),
            Stream::Stderr => writeln!(std::io::stderr(), "{line}"),
        };
    }
}

/// Draws one layer's bar: bytes while they move, the state's words otherwise.
fn draw(bar: &ProgressBar, transfer: Transfer, state: LayerState, progress: &LayerProgress) {
    let text = state_text(transfer, state).unwrap_or_default();
    bar.set_message(text);
    if state == LayerState::Transferring {
        let style =
            ProgressStyle::with_template("{prefix}: {msg} [{bar:40}] {bytes}/{total_bytes}")
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_length(u64::try_from(progress.total).unwrap_or(0));
        bar.set_position(u64::try_from(progress.current).unwrap_or(0));
    } else {
        bar.set_style(text_style());
    }
}

/// A layer's line without a bar: `<digest>: <state>`.
fn text_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// What Docker says for a layer in `state`.
pub fn state_text(transfer: Transfer, state: LayerState) -> Option<&'static str> {
    Some(match (transfer, state) {
        (_, LayerState::Unspecified) => return None,
        (Transfer::Pull, LayerState::Waiting) => "Pulling fs layer",
        (Transfer::Pull, LayerState::Shared) => "Waiting",
        (Transfer::Pull, LayerState::Transferring) => "Downloading",
        (Transfer::Pull, LayerState::Verifying) => "Verifying Checksum",
        (Transfer::Pull, LayerState::Complete) => "Pull complete",
        (Transfer::Pull, LayerState::AlreadyExists) => "Already exists",
        (Transfer::Pull, LayerState::Mounted) => "Mounted",
        (Transfer::Push, LayerState::Waiting | LayerState::Shared) => "Preparing",
        (Transfer::Push, LayerState::Transferring | LayerState::Verifying) => "Pushing",
        (Transfer::Push, LayerState::Complete) => "Pushed",
        (Transfer::Push, LayerState::AlreadyExists) => "Layer already exists",
        (Transfer::Push, LayerState::Mounted) => "Mounted from another repository",
    })
}

/// The line to print for `progress` when the output is not a terminal: one per change of
/// state, none for byte counts (as Docker does).
pub fn plain_line(
    transfer: Transfer,
    previous: LayerState,
    progress: &LayerProgress,
) -> Option<String> {
    let state = LayerState::try_from(progress.state).ok()?;
    if state == previous || state == LayerState::Transferring {
        return None;
    }
    let text = state_text(transfer, state)?;
    Some(format!("{}: {text}", short_digest(&progress.digest)))
}

/// The first 12 hex digits of a digest, as Docker names layers.
pub fn short_digest(digest: &str) -> &str {
    let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
    &hex[..hex.len().min(12)]
}

/// One message of a pull or push stream.
pub enum TransferMessage<R> {
    /// A layer's progress.
    Progress(LayerProgress),
    /// The outcome, sent last.
    Done(R),
}

/// Reads a pull or push stream to its end, drawing its progress on `view` (`None`: quiet),
/// and returns its outcome. `split` tells the two kinds of message apart.
pub async fn follow_transfer<M, R>(
    mut responses: Streaming<M>,
    mut view: Option<ProgressView>,
    split: impl Fn(M) -> Option<TransferMessage<R>>,
) -> Result<Option<R>, tonic::Status> {
    let mut result = None;
    while let Some(message) = responses.message().await? {
        match split(message) {
            Some(TransferMessage::Progress(p)) => {
                if let Some(view) = view.as_mut() {
                    view.update(&p);
                }
            }
            Some(TransferMessage::Done(r)) => result = Some(r),
            None => {}
        }
    }
    if let Some(view) = view {
        view.finish();
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(state: LayerState) -> LayerProgress {
        LayerProgress {
            digest: format!("sha256:{}", "ab".repeat(32)),
            state: state.into(),
            current: 10,
            total: 100,
        }
    }

    #[test]
    fn plain_lines_follow_state_changes_only() {
        let pull = |previous, state| plain_line(Transfer::Pull, previous, &progress(state));
        assert_eq!(
            pull(LayerState::Unspecified, LayerState::Waiting).as_deref(),
            Some("abababababab: Pulling fs layer")
        );
        assert_eq!(pull(LayerState::Waiting, LayerState::Transferring), None);
        assert_eq!(pull(LayerState::Complete, LayerState::Complete), None);
        assert_eq!(
            pull(LayerState::Transferring, LayerState::Complete).as_deref(),
            Some("abababababab: Pull complete")
        );
        assert_eq!(
            pull(LayerState::Unspecified, LayerState::AlreadyExists).as_deref(),
            Some("abababababab: Already exists")
        );
        let push = |state| plain_line(Transfer::Push, LayerState::Waiting, &progress(state));
        assert_eq!(
            push(LayerState::Complete).as_deref(),
            Some("abababababab: Pushed")
        );
        assert_eq!(
            push(LayerState::AlreadyExists).as_deref(),
            Some("abababababab: Layer already exists")
        );
    }

    #[test]
    fn short_digests_are_twelve_hex_digits() {
        assert_eq!(short_digest("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(short_digest("abc"), "abc");
    }
}
