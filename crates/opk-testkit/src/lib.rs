//! Test support for the adapter crates (dev-dependency only): in-process stand-ins that need no
//! node, browser or sshd. The end-to-end harness with the real peers is `opk-e2e`, which builds on
//! this crate.
//!
//! | module | what it gives |
//! | --- | --- |
//! | [`http`] | [`StubServer`]: an HTTP/1.1 server on 127.0.0.1 answering with canned or computed [`Response`]s and recording every [`Request`] |
//! | [`tls`] | [`TestCa`]: an openssl CA and a localhost server certificate |
//! | [`process`] | [`Guard`]: a child process killed on drop; [`run_ok`]: a command that must succeed; [`show`]: its output for a message |
//! | [`fs`] | [`fs::mkfifo`]: a FIFO where a regular file is expected |
//! | [`rng`] | [`rng::seeded`], [`rng::garbage`], [`rng::garbage_inputs`]: reproducible pseudo-random input for fuzz-style tests |
//! | [`tree`] | [`tree::make_odd_tree`] and [`tree::listing`]: a tree of awkward names to copy and compare |
#![forbid(unsafe_code)]

pub mod fs;
pub mod http;
pub mod process;
pub mod rng;
pub mod tls;
pub mod tree;

pub use http::{Request, Response, StubServer};
pub use process::{Guard, run_ok, show};
pub use tls::TestCa;
