//! Credentials for the four documented auth schemes, and the one redaction policy for them.
//!
//! A [`Secret`] never shows its value through `Debug` or `Display`; the only way to the value is
//! [`Secret::expose`], used where a header is built or compared. Reports, logs, snapshots and error
//! messages therefore cannot print a credential by accident.

use std::fmt;

/// A credential value that redacts itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// What a redacted secret prints as.
pub const REDACTED: &str = "[redacted]";

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Call only to build or compare an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// The auth schemes of the API \[doc\]\[spec\], as sent in `Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Basic base64(username:password)`.
    Basic { username: String, password: Secret },
    /// `App <api key>`.
    ApiKey(Secret),
    /// `IBSSO <session token>`.
    Ibsso(Secret),
    /// `Bearer <OAuth2 access token>`.
    Bearer(Secret),
}

/// The environment variables settings come from (the CLI reads them; a rerun command names
/// them instead of printing a value).
pub mod env {
    pub const TARGET: &str = "PUSHCHECK_TARGET";
    pub const API_KEY: &str = "PUSHCHECK_API_KEY";
    pub const BASIC: &str = "PUSHCHECK_BASIC";
    pub const IBSSO: &str = "PUSHCHECK_IBSSO";
    pub const BEARER: &str = "PUSHCHECK_BEARER";
    pub const APP_CODE: &str = "PUSHCHECK_APP_CODE";
    pub const APPLICATION_ID: &str = "PUSHCHECK_APPLICATION_ID";
    pub const CA_CERT: &str = "PUSHCHECK_CA_CERT";
}

impl Credentials {
    /// The environment variable this kind of credential is read from.
    pub fn env_var(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => env::BASIC,
            Credentials::ApiKey(_) => env::API_KEY,
            Credentials::Ibsso(_) => env::IBSSO,
            Credentials::Bearer(_) => env::BEARER,
        }
    }

    /// The scheme word, as it starts the header value.
    pub fn scheme(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => "Basic",
            Credentials::ApiKey(_) => "App",
            Credentials::Ibsso(_) => "IBSSO",
            Credentials::Bearer(_) => "Bearer",
        }
    }

    /// The full `Authorization` header value. It contains the secret: never log it.
    pub fn header_value(&self) -> Secret {
        let value = match self {
            Credentials::Basic { username, password } => format!(
                "Basic {}",
                base64(format!("{username}:{}", password.expose()).as_bytes())
            ),
            Credentials::ApiKey(s) | Credentials::Ibsso(s) | Credentials::Bearer(s) => {
                format!("{} {}", self.scheme(), s.expose())
            }
        };
        Secret(value)
    }

    /// Parses `USER:PASS` for `--basic`.
    pub fn basic_from_pair(pair: &str) -> Result<Credentials, String> {
        match pair.split_once(':') {
            Some((user, pass)) if !user.is_empty() => Ok(Credentials::Basic {
                username: user.to_owned(),
                password: Secret::new(pass),
            }),
            _ => Err("expected USER:PASS (a user name, a colon, a password)".to_owned()),
        }
    }
}

/// Standard base64 with padding (RFC 4648), for Basic auth.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_matches_the_doc_example() {
        let c = Credentials::basic_from_pair("Aladdin:open sesame").unwrap();
        assert_eq!(
            c.header_value().expose(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }

    #[test]
    fn secrets_redact_themselves() {
        let c = Credentials::ApiKey(Secret::new("k-123"));
        assert!(!format!("{c:?}").contains("k-123"));
        assert_eq!(c.header_value().to_string(), REDACTED);
    }
}
