//! The local terminal: raw mode for interactive sessions and its size.

use berth_proto::node::v1::TerminalSize;
use std::io::IsTerminal;

/// Raw mode while alive; the terminal's previous mode comes back on drop (also on errors).
pub struct RawMode(());

impl RawMode {
    /// Switches stdin's terminal to raw mode, if stdin is a terminal.
    pub fn enable() -> anyhow::Result<Option<RawMode>> {
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        crossterm::terminal::enable_raw_mode()?;
        Ok(Some(RawMode(())))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Nothing more can be done if restoring fails; the shell's `reset` still works.
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The size of the terminal on stdout, if stdout is one.
pub fn size() -> Option<TerminalSize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(width, height)| TerminalSize {
            width: width.into(),
            height: height.into(),
        })
}

/// True when stdin is a terminal (a user typing, rather than a pipe).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}
