//! A process's stdio as the shim holds it: the writing end of its stdin and the reading ends
//! of its output, all non-blocking, or a terminal master standing for both.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result};
use berth_shim::logs::LogStream;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::unistd::{pipe2, read, write};

use crate::driver::ProcessStdio;

/// Input the shim holds for a process beyond this is not accepted from clients until the
/// process has read some of it (clients get back-pressure, the shim's memory stays bounded).
pub const INPUT_LIMIT: usize = 256 * 1024;

/// Where a process's stdin comes from, with what clients sent that it has not read yet.
#[derive(Debug)]
pub struct Input {
    fd: OwnedFd,
    pending: Vec<u8>,
    /// A terminal master: "closing stdin" must not close the terminal.
    pub is_terminal: bool,
    /// The client closed stdin: close it once everything pending is written.
    closing: bool,
}

impl Input {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn has_room(&self) -> bool {
        self.pending.len() < INPUT_LIMIT
    }

    pub fn push(&mut self, data: &[u8]) {
        if !self.closing {
            self.pending.extend_from_slice(data);
        }
    }

    /// Asks to close the input (not a terminal's) once what is pending is written; true when
    /// it can be closed right away.
    pub fn close(&mut self) -> bool {
        if self.is_terminal {
            return false;
        }
        self.closing = true;
        self.pending.is_empty()
    }

    /// Whether it was closed and has nothing left to write.
    pub fn finished(&self) -> bool {
        self.closing && self.pending.is_empty()
    }

    /// Writes what the process will take now; an error means it will never read again.
    pub fn flush(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            match write(&self.fd, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        if self.pending.is_empty() && self.pending.capacity() > 64 * 1024 {
            self.pending = Vec::new();
        }
        Ok(())
    }
}

/// One output stream of a process.
#[derive(Debug)]
pub struct Output {
    fd: OwnedFd,
    pub stream: LogStream,
}

/// What one read of an output gave.
enum Chunk {
    Data(usize),
    /// Nothing right now.
    Empty,
    /// The stream is finished (end of file, or EIO from a terminal whose last user left).
    End,
}

/// Reads one chunk of `outputs[index]` into `buf`: its stream and length, or `None` when
/// nothing is ready or there is no such output. A finished output is removed from the list.
pub fn read_chunk(
    outputs: &mut Vec<Output>,
    index: usize,
    buf: &mut [u8],
) -> Option<(LogStream, usize)> {
    let output = outputs.get(index)?;
    match output.read(buf) {
        Chunk::Data(n) => Some((output.stream, n)),
        Chunk::Empty => None,
        Chunk::End => {
            outputs.remove(index);
            None
        }
    }
}

impl Output {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn read(&self, buf: &mut [u8]) -> Chunk {
        loop {
            return match read(self.fd.as_raw_fd(), buf) {
                Ok(0) => Chunk::End,
                Ok(n) => Chunk::Data(n),
                Err(Errno::EAGAIN) => Chunk::Empty,
                Err(Errno::EINTR) => continue,
                Err(_) => Chunk::End,
            };
        }
    }
}

/// The shim's side of a process's stdio, plus the process's side to hand to the runtime.
#[derive(Debug)]
pub struct Stdio {
    pub process: ProcessStdio,
    pub input: Option<Input>,
    pub outputs: Vec<Output>,
}

/// Pipes for stdout and stderr, and for stdin when `stdin` (else /dev/null).
pub fn pipes(stdin: bool) -> Result<Stdio> {
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let (process_stdin, input) = if stdin {
        let (read_end, write_end) = pipe()?;
        set_nonblocking(&write_end)?;
        let input = Input {
            fd: write_end,
            pending: Vec::new(),
            is_terminal: false,
            closing: false,
        };
        (read_end, Some(input))
    } else {
        (dev_null()?, None)
    };
    set_nonblocking(&out_read)?;
    set_nonblocking(&err_read)?;
    Ok(Stdio {
        process: ProcessStdio {
            stdin: process_stdin,
            stdout: out_write,
            stderr: err_write,
        },
        input,
        outputs: vec![
            Output {
                fd: out_read,
                stream: LogStream::Stdout,
            },
            Output {
                fd: err_read,
                stream: LogStream::Stderr,
            },
        ],
    })
}

/// /dev/null for all three: a process on a terminal gets its stdio from the terminal.
pub fn null_stdio() -> Result<ProcessStdio> {
    Ok(ProcessStdio {
        stdin: dev_null()?,
        stdout: dev_null()?,
        stderr: dev_null()?,
    })
}

/// The shim's side of a terminal: its master is both the input and the (stdout) output.
pub fn terminal(master: OwnedFd) -> Result<(Input, Output)> {
    set_nonblocking(&master)?;
    let writer = master
        .try_clone()
        .context("duplicating the terminal master")?;
    Ok((
        Input {
            fd: writer,
            pending: Vec::new(),
            is_terminal: true,
            closing: false,
        },
        Output {
            fd: master,
            stream: LogStream::Stdout,
        },
    ))
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    pipe2(OFlag::O_CLOEXEC).context("creating a pipe")
}

fn dev_null() -> Result<OwnedFd> {
    Ok(File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("opening /dev/null")?
        .into())
}

fn set_nonblocking(fd: &OwnedFd) -> Result<()> {
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).context("reading fd flags")?;
    fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .context("making an fd non-blocking")?;
    Ok(())
}
