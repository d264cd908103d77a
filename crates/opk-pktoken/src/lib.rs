//! OpenPubkey PK Tokens: the OP's ID token plus a client-instance-claims (CIC) signature by the
//! user's ephemeral key, in the compact form opkssh puts into the `openpubkey-pkt` certificate
//! extension. Pure: no network, no disk.
#![forbid(unsafe_code)]

mod expiry;

pub use expiry::ExpiryPolicy;
