//! Attach and exec sessions, with pipes and with terminals.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

mod common;

use berth_shim::{AttachOptions, ExecSpec, ShimError, WinSize};
use common::{collect, read_until, Container};
use oci_spec::runtime::Process;

fn exec_spec(c: &Container, args: &[&str], terminal: bool, stdin: bool) -> ExecSpec {
    let mut process: Process = c.spec.process().clone().unwrap();
    process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
    process.set_terminal(Some(terminal));
    ExecSpec { process, stdin }
}

#[tokio::test]
async fn attach_gets_live_output_and_feeds_stdin() {
    let mut c = Container::new(
        "attach",
        &["sh", "-c", "echo ready; read x; echo got $x >&2"],
    );
    c.config.open_stdin = true;
    c.launch().await.unwrap();
    let client = c.client();
    let (mut sender, mut receiver) = client
        .attach(AttachOptions {
            stdin: true,
            stdout: true,
            stderr: true,
        })
        .await
        .unwrap();
    let waiter = c.start().await;
    read_until(&mut receiver, "ready\n").await;
    sender.stdin(b"hello\n").await.unwrap();
    let (out, err, code) = collect(&mut receiver).await;
    assert_eq!(
        (out.as_str(), err.as_str(), code),
        ("", "got hello\n", Some(0))
    );
    assert_eq!(waiter.await.unwrap().exit_code, 0);
    // Everything also reached the log.
    assert_eq!(c.log_text(), ("ready\n".into(), "got hello\n".into()));
}

#[tokio::test]
async fn closing_stdin_ends_input() {
    let mut c = Container::new("eof", &["sh", "-c", "cat; echo done"]);
    c.config.open_stdin = true;
    c.launch().await.unwrap();
    let (mut sender, mut receiver) = c
        .client()
        .attach(AttachOptions {
            stdin: true,
            stdout: true,
            stderr: false,
        })
        .await
        .unwrap();
    let waiter = c.start().await;
    sender.stdin(b"one\ntwo\n").await.unwrap();
    sender.close_stdin().await.unwrap();
    let (out, _, code) = collect(&mut receiver).await;
    assert_eq!((out.as_str(), code), ("one\ntwo\ndone\n", Some(0)));
    waiter.await.unwrap();
}

#[tokio::test]
async fn exec_streams_output_and_its_exit_code() {
    let c = Container::new("exec", &["sleep", "1000"]);
    c.launch().await.unwrap();
    let client = c.client();
    assert!(matches!(
        client.exec(&exec_spec(&c, &["true"], false, false)).await,
        Err(ShimError::InvalidArgument(_))
    ));
    let waiter = c.start().await;
    let spec = exec_spec(
        &c,
        &["sh", "-c", "echo out; echo err >&2; exit 7"],
        false,
        false,
    );
    let (_sender, mut receiver) = client.exec(&spec).await.unwrap();
    assert_eq!(
        collect(&mut receiver).await,
        ("out\n".into(), "err\n".into(), Some(7))
    );

    // Stdin, and a process that keeps running after its client went away.
    let spec = exec_spec(
        &c,
        &["sh", "-c", "read x; echo $x > /dev/shm/seen; sleep 1000"],
        false,
        true,
    );
    let (mut sender, receiver) = client.exec(&spec).await.unwrap();
    sender.stdin(b"kept\n").await.unwrap();
    drop((sender, receiver));
    let spec = exec_spec(
        &c,
        &[
            "sh",
            "-c",
            "while [ ! -s /dev/shm/seen ]; do sleep 0.05; done; cat /dev/shm/seen",
        ],
        false,
        false,
    );
    let (_sender, mut receiver) = client.exec(&spec).await.unwrap();
    assert_eq!(collect(&mut receiver).await.0, "kept\n");
    let pids = client.pids().await.unwrap();
    // The main process and the detached exec (its shell execs into sleep).
    assert_eq!(
        pids.len(),
        2,
        "the detached exec should still run: {pids:?}"
    );

    let missing = exec_spec(&c, &["/no/such/binary"], false, false);
    let err = client.exec(&missing).await.unwrap_err();
    assert!(err.to_string().contains("/no/such/binary"), "{err}");

    client.signal(9, true).await.unwrap();
    assert_eq!(waiter.await.unwrap().exit_code, 137);
}

#[tokio::test]
async fn exec_with_a_terminal() {
    let c = Container::new("exectty", &["sleep", "1000"]);
    c.launch().await.unwrap();
    let client = c.client();
    let waiter = c.start().await;
    let spec = exec_spec(
        &c,
        &["sh", "-c", "tty; read line; stty size; echo got $line"],
        true,
        true,
    );
    let (mut sender, mut receiver) = client.exec(&spec).await.unwrap();
    read_until(&mut receiver, "/dev/pts/").await;
    sender
        .resize(WinSize {
            width: 123,
            height: 45,
        })
        .await
        .unwrap();
    sender.stdin(b"typed\r").await.unwrap();
    let (out, err, code) = collect(&mut receiver).await;
    assert!(out.contains("45 123"), "{out:?}");
    assert!(out.contains("got typed"), "{out:?}");
    assert_eq!((err.as_str(), code), ("", Some(0)));
    client.signal(9, true).await.unwrap();
    waiter.await.unwrap();
}

#[tokio::test]
async fn main_process_on_a_terminal() {
    let mut c = Container::new("tty", &["sh", "-c", "stty size; read x; echo got $x"]).with_tty();
    c.config.open_stdin = true;
    c.launch().await.unwrap();
    let client = c.client();
    client
        .resize(WinSize {
            width: 100,
            height: 30,
        })
        .await
        .unwrap();
    let (mut sender, mut receiver) = client
        .attach(AttachOptions {
            stdin: true,
            stdout: true,
            stderr: true,
        })
        .await
        .unwrap();
    let waiter = c.start().await;
    read_until(&mut receiver, "30 100").await;
    sender.stdin(b"hi\r").await.unwrap();
    let (out, _, code) = collect(&mut receiver).await;
    assert!(out.contains("got hi"), "{out:?}");
    assert_eq!(code, Some(0));
    assert_eq!(waiter.await.unwrap().exit_code, 0);
    let (log, _) = c.log_text();
    assert!(log.contains("30 100") && log.contains("got hi"), "{log:?}");
}

#[tokio::test]
async fn a_slow_attach_client_is_dropped_and_the_log_keeps_everything() {
    let c = Container::new(
        "slow",
        &[
            "sh",
            "-c",
            "head -c 4000000 /dev/zero | tr '\\0' 'x' | fold -w 100; echo end",
        ],
    );
    c.launch().await.unwrap();
    // Attached but not reading while the container runs.
    let (_sender, mut receiver) = c
        .client()
        .attach(AttachOptions {
            stdin: false,
            stdout: true,
            stderr: true,
        })
        .await
        .unwrap();
    let waiter = c.start().await;
    assert_eq!(waiter.await.unwrap().exit_code, 0);
    // fold ends its last line without a newline, so "end" joins it.
    let (log, _) = c.log_text();
    assert_eq!(log.len(), 4_000_000 + 39_999 + 4);
    assert!(log.ends_with("xend\n"));
    // The client got a bounded part and was then cut off, without an exit code.
    let (out, _, code) = collect(&mut receiver).await;
    assert!(
        out.len() < 2_000_000,
        "{} bytes buffered for a stalled client",
        out.len()
    );
    assert_eq!(code, None);
}
