//! The `~` escape of interactive sessions (as OpenSSH's): at the start of a line, `~.`
//! disconnects, `~?` lists the escapes, `~~` sends one `~`; anything else after `~` is sent as is.

/// What the caller does after feeding keystrokes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing but sending the bytes.
    None,
    /// `~.`: close the connection.
    Disconnect,
    /// `~?`: print the help.
    Help,
}

/// Escape state across reads (a `~` may end one read and its command start the next).
#[derive(Debug)]
pub(crate) struct Escape {
    at_line_start: bool,
    tilde: bool,
}

impl Default for Escape {
    fn default() -> Self {
        Self {
            at_line_start: true,
            tilde: false,
        }
    }
}

/// The text `~?` prints.
pub(crate) const HELP: &str = "Supported escape sequences:\r\n ~.   - terminate connection\r\n ~?   - this message\r\n ~~   - send the escape character by typing it twice\r\n(Note that escapes are only recognized immediately after newline.)\r\n";

impl Escape {
    /// Filters `input`: returns the bytes to send and an action. Bytes after `~.` are dropped.
    pub(crate) fn feed(&mut self, input: &[u8]) -> (Vec<u8>, Action) {
        let mut out = Vec::with_capacity(input.len());
        let mut action = Action::None;
        for &b in input {
            if self.tilde {
                self.tilde = false;
                match b {
                    b'.' => return (out, Action::Disconnect),
                    b'?' => {
                        action = Action::Help;
                        continue;
                    }
                    b'~' => out.push(b'~'),
                    _ => {
                        out.push(b'~');
                        out.push(b);
                    }
                }
                self.at_line_start = b == b'\r' || b == b'\n';
                continue;
            }
            if self.at_line_start && b == b'~' {
                self.tilde = true;
                continue;
            }
            out.push(b);
            self.at_line_start = b == b'\r' || b == b'\n';
        }
        (out, action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_dot_disconnects_only_at_line_start() {
        let mut e = Escape::default();
        assert_eq!(e.feed(b"~."), (vec![], Action::Disconnect));
        let mut e = Escape::default();
        assert_eq!(e.feed(b"a~."), (b"a~.".to_vec(), Action::None));
        assert_eq!(e.feed(b"\r~.rest"), (b"\r".to_vec(), Action::Disconnect));
    }

    #[test]
    fn split_reads_double_tilde_and_others() {
        let mut e = Escape::default();
        assert_eq!(e.feed(b"ls\r~"), (b"ls\r".to_vec(), Action::None));
        assert_eq!(e.feed(b"~x"), (b"~x".to_vec(), Action::None));
        let mut e = Escape::default();
        assert_eq!(e.feed(b"~a"), (b"~a".to_vec(), Action::None));
        assert_eq!(e.feed(b"\n~?"), (b"\n".to_vec(), Action::Help));
        // After `~?` we are still at a line start (nothing was sent).
        assert_eq!(e.feed(b"~."), (vec![], Action::Disconnect));
    }
}
