//! Writes the hostile-input catalog: `cargo run -p opk-e2e --example hostile_gen -- <dir>`
//! (the committed one is `crates/opk-cli/tests/hostile`).

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: hostile_gen <dir>");
        std::process::exit(2);
    };
    let count = opk_e2e::hostile::write_catalog(std::path::Path::new(&dir));
    println!(
        "{count} cases written to {}",
        std::path::Path::new(&dir).display()
    );
}
