//! A container with `process.terminal` gets a pty whose master arrives over
//! `--console-socket`, and a shell on it answers.

use std::time::Duration;

use berth_tests::{ConsoleSocket, TestEnv};

const PTY_TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn terminal_container_gets_a_working_pty() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("tty").unwrap();
    bundle.terminal(true).args(&["sh"]);
    bundle.write().unwrap();
    let socket = ConsoleSocket::bind(&env.scratch().join("console.sock")).unwrap();

    let dir = bundle.dir().to_string_lossy().into_owned();
    let sock = socket.path().to_string_lossy().into_owned();
    let create = env
        .spawn(&[
            "create",
            "--console-socket",
            &sock,
            "--bundle",
            &dir,
            bundle.id(),
        ])
        .unwrap();
    let mut pty = socket.receive_master(PTY_TIMEOUT).unwrap();
    create.finish(PTY_TIMEOUT).unwrap().assert_success();
    env.call(&["start", bundle.id()]).unwrap().assert_success();

    // Each answer is computed by the shell, so the terminal's echo of the command line
    // cannot satisfy the check.
    pty.send("echo pty-$((6*7))\n").unwrap();
    pty.read_until("pty-42", PTY_TIMEOUT).unwrap();
    pty.send("[ -t 0 ] && [ -t 1 ] && echo is-$((1+1))-ttys\n")
        .unwrap();
    pty.read_until("is-2-ttys", PTY_TIMEOUT).unwrap();
    pty.send("tty | tr a-z A-Z\n").unwrap();
    pty.read_until("/DEV/PTS/", PTY_TIMEOUT).unwrap();

    pty.send("exit 3\n").unwrap();
    env.wait_for_status(bundle.id(), "stopped").unwrap();
    env.call(&["delete", bundle.id()]).unwrap().assert_success();
    env.assert_nothing_left(&bundle);
}
