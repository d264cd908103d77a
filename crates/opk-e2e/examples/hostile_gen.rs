//! Writes the hostile-input catalog, or (with `--seeds`) the fuzz seed corpora from it:
//! `cargo run -p opk-e2e --example hostile_gen -- crates/opk-cli/tests/hostile`, then
//! `cargo run -p opk-e2e --example hostile_gen -- --seeds crates/opk-cli/tests/hostile fuzz/seeds`.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match args.as_slice() {
        [catalog] => {
            let catalog = std::path::Path::new(catalog);
            let count = opk_e2e::hostile::write_catalog(catalog);
            println!("{count} cases written to {}", catalog.display());
        }
        [flag, catalog, corpus] if flag == "--seeds" => {
            let corpus = std::path::Path::new(corpus);
            let seeds = opk_e2e::hostile::write_fuzz_seeds(std::path::Path::new(catalog), corpus);
            println!("{seeds} fuzz seeds written under {}", corpus.display());
        }
        _ => {
            eprintln!(
                "usage: hostile_gen <catalog dir> | hostile_gen --seeds <catalog dir> <corpus dir>"
            );
            std::process::exit(2);
        }
    }
}
