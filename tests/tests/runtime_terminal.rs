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

/// `run` in the foreground without `--console-socket` connects the container's pty to the
/// runtime's own stdin and stdout, as runc does, and exits with the container's status.
#[test]
fn foreground_run_relays_a_terminal_through_its_own_stdio() {
    use std::io::Write;
    use std::process::Stdio;

    let env = TestEnv::new().unwrap();
    if !env.runtime().is_berth() {
        eprintln!("skipped: runc 1.1 refuses a terminal when its stdin is not one");
        return;
    }
    let mut bundle = env.bundle("ttyrun").unwrap();
    bundle
        .terminal(true)
        .shell("tty; read line; echo got $line; exit 5");
    bundle.write().unwrap();
    let dir = bundle.dir().to_string_lossy().into_owned();
    let mut child = env
        .command(&["run", "--bundle", &dir, bundle.id()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert!(text.contains("got hello"), "{text}");
    env.assert_nothing_left(&bundle);
}

/// `exec -t --console-socket` gives the new process its own pty in the container, and the
/// exec exits with the process's status.
#[test]
fn exec_with_a_terminal_gets_its_own_pty() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("ttyexec").unwrap();
    bundle.args(&["sleep", "1000"]);
    env.create_and_start(&bundle).unwrap();
    let socket = ConsoleSocket::bind(&env.scratch().join("exec.sock")).unwrap();
    let sock = socket.path().to_string_lossy().into_owned();
    // runc 1.1 takes a console socket only when detached; berth-runtime also in the
    // foreground, where it returns the process's status.
    let berth = env.runtime().is_berth();
    let mut args = vec!["exec", "-t", "--console-socket", &sock];
    if !berth {
        args.push("-d");
    }
    args.extend([bundle.id(), "sh"]);
    let exec = env.spawn(&args).unwrap();
    let mut pty = socket.receive_master(PTY_TIMEOUT).unwrap();
    pty.send("[ -t 0 ] && echo exec-$((3*3))-tty\n").unwrap();
    pty.read_until("exec-9-tty", PTY_TIMEOUT).unwrap();
    pty.send("exit 4\n").unwrap();
    let out = exec.finish(PTY_TIMEOUT).unwrap();
    if berth {
        out.assert_code(4);
    }

    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&bundle);
}
