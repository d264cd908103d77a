//! Shell completions and man pages, generated from the same clap definitions as the parser,
//! checked with the real consumers: bash loads the completion script and completes opk's
//! commands and flags; `man -l` renders the pages (man-db, installed by scripts/lib.sh).

use std::process::Command;

const OPK: &str = env!("CARGO_BIN_EXE_opk");

/// What bash's completion offers for the words of `line` (the last one being completed), with
/// the script `opk completions bash` printed, loaded by `source` as a user would.
fn bash_completes(line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <('{OPK}' completions bash) || exit 9\n\
         complete -p opk | grep -q _opk || exit 8\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{joined}'; COMP_POINT=${{#COMP_LINE}}\n\
         _opk opk '{last}' '{prev}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words.join(" "),
        cword = line.len() - 1,
        joined = line.join(" "),
        last = line.last().expect("a word"),
        prev = line[line.len() - 2],
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "bash: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The bash script loads and registers `_opk`; it completes the subcommands (login, verify, the
/// newer logout) and login's flags, opkssh's spellings included. Fails if the script does not
/// load in bash or misses a command or flag the parser has.
#[test]
fn bash_completion_loads_and_completes_commands_and_flags() {
    let commands = bash_completes(&["opk", ""]);
    for c in ["login", "verify", "logout", "completions", "man", "client"] {
        assert!(commands.iter().any(|w| w == c), "{c} not in {commands:?}");
    }
    let flags = bash_completes(&["opk", "login", "--pri"]);
    for f in [
        "--print-id-token",
        "--print-key",
        "--principals",
        "--private-key-file",
    ] {
        assert!(flags.iter().any(|w| w == f), "{f} not in {flags:?}");
    }
    assert!(flags.iter().all(|w| w.starts_with("--pri")), "{flags:?}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(OPK)
            .args(["completions", shell])
            .output()
            .expect("opk completions");
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}");
    }
}

/// `opk man --out-dir` writes opk.1 and a page per command; `man -l` renders them, and the login
/// page lists every flag of `opk login --help`. Fails if a page is missing, does not render, or
/// drifts from the parser.
#[test]
fn man_pages_render_with_man() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(OPK)
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .expect("opk man");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let render = |page: &str| {
        let out = Command::new("man")
            .arg("-l")
            .arg(dir.path().join(page))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "200")
            .env("LANG", "C.UTF-8")
            .output()
            .expect("man -l (Debian man-db)");
        assert!(
            out.status.success(),
            "{page}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let top = render("opk.1");
    assert!(
        top.contains("SUBCOMMANDS") && top.contains("opk-login(1)"),
        "{top}"
    );
    let login = render("opk-login.1");
    let help = Command::new(OPK)
        .args(["login", "--help"])
        .output()
        .expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    let flags: Vec<&str> = help
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches(','))
        .collect();
    assert!(flags.len() > 15, "{flags:?}");
    for flag in flags {
        assert!(
            login.contains(flag),
            "{flag} missing from opk-login(1):\n{login}"
        );
    }
    // Printed to stdout, the top page is the same opk.1.
    let printed = Command::new(OPK).arg("man").output().expect("opk man");
    let page = std::fs::read_to_string(dir.path().join("opk.1")).expect("opk.1");
    assert!(
        String::from_utf8_lossy(&printed.stdout) == page,
        "opk man differs from opk.1"
    );
    assert!(
        top.contains(concat!("v", env!("CARGO_PKG_VERSION"))),
        "{top}"
    );
}
