//! CLI snapshots (trycmd): the exact text and exit status a user sees for common mistakes.
//! The cases are tests/cmd/*.toml; refresh with TRYCMD=overwrite after a deliberate change.

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new().case("tests/cmd/*.toml");
}
