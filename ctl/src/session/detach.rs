//! Docker's detach sequence, Ctrl-P Ctrl-Q, recognised in the bytes typed on a terminal.

const CTRL_P: u8 = 0x10;
const CTRL_Q: u8 = 0x11;

/// What a chunk of typed bytes means.
#[derive(Debug, PartialEq, Eq)]
pub enum Typed {
    /// Bytes to forward to the process.
    Forward(Vec<u8>),
    /// The user typed the detach sequence; the bytes before it are to be forwarded first.
    Detach(Vec<u8>),
}

/// Finds Ctrl-P Ctrl-Q across chunk boundaries. A Ctrl-P followed by anything else is forwarded
/// with what follows it, as Docker does.
#[derive(Debug, Default)]
pub struct DetachFilter {
    pending_ctrl_p: bool,
}

impl DetachFilter {
    /// Filters one chunk read from the terminal.
    pub fn feed(&mut self, chunk: &[u8]) -> Typed {
        let mut forward = Vec::with_capacity(chunk.len() + 1);
        for &byte in chunk {
            if self.pending_ctrl_p {
                self.pending_ctrl_p = false;
                if byte == CTRL_Q {
                    return Typed::Detach(forward);
                }
                forward.push(CTRL_P);
            }
            if byte == CTRL_P {
                self.pending_ctrl_p = true;
            } else {
                forward.push(byte);
            }
        }
        Typed::Forward(forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sequences() {
        let mut filter = DetachFilter::default();
        assert_eq!(filter.feed(b"ls\r"), Typed::Forward(b"ls\r".to_vec()));
        assert_eq!(filter.feed(b"a\x10\x11b"), Typed::Detach(b"a".to_vec()));
        let mut filter = DetachFilter::default();
        assert_eq!(filter.feed(b"x\x10"), Typed::Forward(b"x".to_vec()));
        assert_eq!(filter.feed(b"\x11"), Typed::Detach(Vec::new()));
        let mut filter = DetachFilter::default();
        assert_eq!(filter.feed(b"\x10"), Typed::Forward(Vec::new()));
        assert_eq!(filter.feed(b"y"), Typed::Forward(b"\x10y".to_vec()));
        assert_eq!(
            filter.feed(b"\x10\x10\x11"),
            Typed::Detach(b"\x10".to_vec())
        );
    }

    proptest! {
        #[test]
        fn without_ctrl_p_everything_is_forwarded(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>().prop_filter("no ctrl-p", |b| *b != CTRL_P), 0..32), 0..8)) {
            let mut filter = DetachFilter::default();
            for chunk in chunks {
                prop_assert_eq!(filter.feed(&chunk), Typed::Forward(chunk.clone()));
            }
        }

        #[test]
        fn forwarded_bytes_are_a_prefix_of_the_input(input in proptest::collection::vec(any::<u8>(), 0..64), split in 0usize..64) {
            let split = split.min(input.len());
            let mut filter = DetachFilter::default();
            let mut forwarded = Vec::new();
            for chunk in [&input[..split], &input[split..]] {
                match filter.feed(chunk) {
                    Typed::Forward(bytes) => forwarded.extend(bytes),
                    Typed::Detach(bytes) => { forwarded.extend(bytes); break; }
                }
            }
            prop_assert!(input.starts_with(&forwarded));
        }
    }
}
