//! The few facts the runtime reads about a host process from `/proc/<pid>/stat`.

use std::fs;

/// What `/proc/<pid>/stat` tells us about one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The one-letter state (R, S, D, Z, T, ...).
    pub state: char,
    pub ppid: i32,
    /// Start time in clock ticks since boot; with the pid it identifies a process uniquely.
    pub start_time: u64,
}

impl ProcStat {
    /// Reads the stat of `pid`, or `None` when no such process exists.
    pub fn read(pid: i32) -> Option<Self> {
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Self::parse(&text)
    }

    /// Parses a stat line. The command name may itself contain spaces and parentheses, so
    /// fields are counted from the last `)`.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = &text[text.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        // Field 22 overall is the 20th after the command name.
        let start_time = fields.nth(17)?.parse().ok()?;
        Some(ProcStat {
            state,
            ppid,
            start_time,
        })
    }

    /// Dead processes (zombies awaiting their reaper) no longer run any code.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// True when `pid` is still the same living process that started at `start_time`.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    ProcStat::read(pid).is_some_and(|s| s.start_time == start_time && !s.is_dead())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 1000 10";
        let stat = ProcStat::parse(line).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.ppid, 1);
        assert_eq!(stat.start_time, 12345);
    }

    #[test]
    fn reads_this_process() {
        let stat = ProcStat::read(std::process::id() as i32).unwrap();
        assert!(is_alive(std::process::id() as i32, stat.start_time));
        assert!(!is_alive(std::process::id() as i32, stat.start_time + 1));
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC{0,200}") {
            let _ = ProcStat::parse(&line);
        }
    }
}
