//! The two HTTP calls the login needs, behind a trait so tests can use a fake OP.

use serde_json::Value;

use crate::Error;

/// The HTTP operations the login flow performs against the OP.
///
/// Implemented for `opk_http::HttpClient`; tests implement it with an in-memory fake.
pub trait OidcHttp {
    /// GETs `url` and returns its JSON body; any status other than 200 is an error.
    fn get_json(&self, url: &str) -> Result<Value, Error>;

    /// POSTs `form` as `application/x-www-form-urlencoded` and returns the status and JSON body
    /// (error statuses included, so the OAuth `error` field can be reported).
    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), Error>;
}

impl OidcHttp for opk_http::HttpClient {
    fn get_json(&self, url: &str) -> Result<Value, Error> {
        Ok(opk_http::HttpClient::get_json(self, url)?)
    }

    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), Error> {
        Ok(opk_http::HttpClient::post_form(self, url, form)?)
    }
}
