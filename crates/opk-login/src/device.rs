//! What the device login shows: the URL and user code always, a QR code of the URL with the code
//! filled in and a spinner with the time left only on a terminal (a log or a pipe gets plain
//! lines, no control characters).

use std::io::Write;
use std::time::Duration;

use opk_oidc::{DeviceCode, DeviceUi};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// A [`DeviceUi`] writing to `out` (stderr in `opk login`).
pub struct TerminalDeviceUi<W: Write> {
    out: W,
    terminal: bool,
    frame: usize,
    ticking: bool,
}

impl<W: Write> TerminalDeviceUi<W> {
    /// `terminal`: whether `out` is a terminal (then the QR code and the spinner are drawn).
    pub fn new(out: W, terminal: bool) -> Self {
        Self {
            out,
            terminal,
            frame: 0,
            ticking: false,
        }
    }

    /// Clears the spinner line, if one is drawn (call when the wait is over).
    pub fn finish(&mut self) {
        if self.ticking {
            let _ = write!(self.out, "\r\x1b[2K");
            let _ = self.out.flush();
            self.ticking = false;
        }
    }

    /// The writer, for tests.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> DeviceUi for TerminalDeviceUi<W> {
    fn show_code(&mut self, code: &DeviceCode) {
        let url = code
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&code.verification_uri);
        // The URL on a line of its own, so it can be copied (or picked up by a script).
        let _ = writeln!(
            self.out,
            "To log in, open this URL on any device and confirm the code {}:\n{url}",
            code.user_code
        );
        if code.verification_uri_complete.is_some() {
            let _ = writeln!(
                self.out,
                "(or open {} and enter the code)",
                code.verification_uri
            );
        }
        if self.terminal
            && let Some(qr) = code.verification_uri_complete.as_deref().and_then(qr_text)
        {
            let _ = writeln!(self.out, "{qr}");
        }
        let _ = self.out.flush();
    }

    fn tick(&mut self, left: Duration) {
        if !self.terminal {
            return;
        }
        self.frame = (self.frame + 1) % SPINNER.len();
        let secs = left.as_secs();
        let _ = write!(
            self.out,
            "\r\x1b[2K{} waiting for the login to be confirmed; the code expires in {}m {:02}s (Ctrl-C to cancel)",
            SPINNER[self.frame],
            secs / 60,
            secs % 60
        );
        let _ = self.out.flush();
        self.ticking = true;
    }
}

/// `text` as a QR code of half-height Unicode blocks (two module rows per line), with the quiet
/// zone; `None` if it is too long for a QR code.
pub fn qr_text(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code() -> DeviceCode {
        DeviceCode {
            user_code: "ABCD-EFGH".into(),
            verification_uri: "https://op.example/device".into(),
            verification_uri_complete: Some("https://op.example/device?user_code=ABCD-EFGH".into()),
            expires_in: Duration::from_secs(600),
        }
    }

    /// What a login that shows the code and waits once, `left` before expiry, writes.
    fn shown(terminal: bool, left: u64) -> String {
        let mut ui = TerminalDeviceUi::new(Vec::new(), terminal);
        ui.show_code(&code());
        ui.tick(Duration::from_secs(left));
        ui.finish();
        String::from_utf8(ui.into_inner()).expect("utf8")
    }

    #[test]
    fn plain_lines_off_a_terminal() {
        let text = shown(false, 61);
        assert_eq!(
            text,
            "To log in, open this URL on any device and confirm the code ABCD-EFGH:\n\
             https://op.example/device?user_code=ABCD-EFGH\n\
             (or open https://op.example/device and enter the code)\n"
        );
    }

    #[test]
    fn qr_code_and_spinner_on_a_terminal() {
        let text = shown(true, 125);
        let qr = qr_text("https://op.example/device?user_code=ABCD-EFGH").expect("qr");
        assert!(text.contains(&qr), "{text}");
        // Square blocks of equal width, at least a version-1 code (21 modules) wide.
        let lines: Vec<&str> = qr.lines().collect();
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == lines[0].chars().count())
        );
        assert!(
            lines[0].chars().count() >= 21,
            "{}",
            lines[0].chars().count()
        );
        assert!(
            text.contains("the code expires in 2m 05s (Ctrl-C to cancel)"),
            "{text}"
        );
        assert!(text.ends_with("\r\x1b[2K"), "{text:?}");
        assert_eq!(qr_text(&"x".repeat(8000)), None);
    }
}
