//! The one redaction policy for text a target sends back.
//!
//! [`Secret`](super::auth::Secret) keeps pushcheck from printing a credential by itself; a
//! [`Redactor`] covers the other way in: a target that echoes the `Authorization` header (or the
//! key) in an error body. Built from the credentials of a run, it replaces every known secret
//! value and its encodings in any text with [`REDACTED`]:
//! the raw key or token, the whole `Authorization` header value, `user:pass`, the base64 of
//! `user:pass`, the password, and the percent- and JSON-escaped forms of each.
//!
//! Values shorter than [`MIN_SECRET_LEN`] characters are not scrubbed on their own (they would
//! blank out ordinary words); their longer encodings still are.

use super::auth::{Credentials, REDACTED, base64};

/// Shorter values are scrubbed only inside their longer encodings.
pub const MIN_SECRET_LEN: usize = 4;

/// Scrubs known secret values from text.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so an encoding that contains another needle is replaced whole.
    needles: Vec<String>,
}

impl Redactor {
    /// A redactor for every credential of a run.
    pub fn new<'a>(credentials: impl IntoIterator<Item = &'a Credentials>) -> Redactor {
        let mut redactor = Redactor::default();
        for c in credentials {
            redactor.add_credentials(c);
        }
        redactor
    }

    /// Adds one credential's values and encodings.
    pub fn add_credentials(&mut self, credentials: &Credentials) {
        let header = credentials.header_value();
        self.add(header.expose());
        match credentials {
            Credentials::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                self.add(&base64(pair.as_bytes()));
                self.add(&pair);
                self.add(password.expose());
            }
            Credentials::ApiKey(s) | Credentials::Ibsso(s) | Credentials::Bearer(s) => {
                self.add(s.expose());
                self.add(&base64(s.expose().as_bytes()));
            }
        }
    }

    /// Adds one secret value, with its percent-encoded and JSON-escaped forms.
    pub fn add(&mut self, value: &str) {
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json.trim_matches('"').to_owned();
        for form in [value.to_owned(), super::encode_path_segment(value), json] {
            if form.chars().count() >= MIN_SECRET_LEN && !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// Whether nothing is scrubbed (no credential known).
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every known secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }

    /// Scrubs `text` in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        if self.needles.iter().any(|n| text.contains(n.as_str())) {
            *text = self.scrub(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth::Secret;

    #[test]
    fn scrubs_every_encoding_of_every_scheme() {
        let basic = Credentials::basic_from_pair("qa-user:pa55/word").unwrap();
        let key = Credentials::ApiKey(Secret::new("k3y-canary"));
        let r = Redactor::new([&basic, &key]);
        let pair_b64 = base64(b"qa-user:pa55/word");
        let text = format!(
            "echo: Authorization: Basic {pair_b64}; App k3y-canary; qa-user:pa55/word; pa55%2Fword; {}",
            base64(b"k3y-canary")
        );
        let clean = r.scrub(&text);
        for secret in ["k3y-canary", "pa55/word", "pa55%2Fword", pair_b64.as_str()] {
            assert!(!clean.contains(secret), "{secret} in {clean}");
        }
        assert!(clean.contains("[redacted]"));
        assert_eq!(r.scrub("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn short_values_alone_are_kept() {
        let r = Redactor::new([&Credentials::basic_from_pair("u:ab").unwrap()]);
        assert_eq!(r.scrub("ab cab"), "ab cab");
        assert!(!r.scrub("u:ab").contains("u:ab"));
    }
}
