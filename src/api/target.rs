//! The one parser of target URLs (`--target`, `PUSHCHECK_TARGET`): scheme, host, loopback or
//! not, and no credentials inside the URL.
//!
//! Credentials come from flags and environment variables only. A URL with userinfo
//! (`http://user:KEY@host`) is refused, and every message about a URL shows it without the
//! userinfo, so the key never reaches stdout, a report or an error line.

use std::net::IpAddr;

/// A checked target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    /// Scheme, host, port and any path prefix, without a trailing slash.
    pub base_url: String,
    /// The host name or address (IPv6 without brackets).
    pub host: String,
    /// `localhost` or a loopback address.
    pub loopback: bool,
}

/// Why a target URL is refused. Messages never contain the URL's userinfo.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target URL {shown:?} is not a URL: {message}")]
    NotUrl { shown: String, message: String },
    #[error("target URL {shown:?} must start with http:// or https://")]
    Scheme { shown: String },
    /// A host and port without a scheme (`127.0.0.1:8080`), which URL parsers misread.
    #[error("target URL {shown:?} has no scheme: write http://{shown} (or https://{shown})")]
    NoScheme { shown: String },
    #[error("target URL {shown:?} has no host")]
    NoHost { shown: String },
    #[error(
        "target URL {shown} carries credentials (user:password@); give them with --api-key, --basic, --ibsso or --bearer (or PUSHCHECK_API_KEY…), not in the URL"
    )]
    Userinfo { shown: String },
}

/// Parses and checks a target URL.
pub fn parse(url: &str) -> Result<TargetUrl, TargetError> {
    let trimmed = url.trim().trim_end_matches('/');
    let shown = without_userinfo(trimmed);
    if !trimmed.contains("://") && !shown.is_empty() && !shown.contains(char::is_whitespace) {
        return Err(TargetError::NoScheme { shown });
    }
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| TargetError::NotUrl {
        shown: shown.clone(),
        message: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Scheme { shown });
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || shown != trimmed {
        return Err(TargetError::Userinfo { shown });
    }
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
        _ => return Err(TargetError::NoHost { shown }),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    Ok(TargetUrl {
        base_url: trimmed.to_owned(),
        host: host.to_owned(),
        loopback,
    })
}

/// `url` with any `userinfo@` of its authority removed (for messages); other text unchanged.
pub fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match scheme {
        Some(s) => format!("{s}://{host}{tail}"),
        None => format!("{host}{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_remote_hosts() {
        let t = parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(t.base_url, "http://127.0.0.1:8080");
        assert!(t.loopback);
        assert!(parse("http://localhost:1").unwrap().loopback);
        assert!(parse("http://[::1]:1").unwrap().loopback);
        let remote = parse("https://xxxxx.api.infobip.com").unwrap();
        assert!(!remote.loopback);
        assert_eq!(remote.host, "xxxxx.api.infobip.com");
    }

    #[test]
    fn userinfo_is_refused_and_never_shown() {
        for url in [
            "http://user:s3cr3t-KEY@127.0.0.1:9",
            "http://s3cr3t-KEY@127.0.0.1:9/x",
            "https://u:s3cr3t-KEY@host.example",
        ] {
            let err = parse(url).unwrap_err();
            assert!(matches!(err, TargetError::Userinfo { .. }), "{url}: {err}");
            assert!(!err.to_string().contains("s3cr3t-KEY"), "{err}");
        }
        let err = parse("http://u:s3cr3t-KEY@127.0.0.1:9").unwrap_err();
        assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
        assert!(
            !parse("ftp://u:s3cr3t-KEY@h")
                .unwrap_err()
                .to_string()
                .contains("s3cr3t")
        );
        assert!(
            !parse("http://u:s3cr3t-KEY@")
                .unwrap_err()
                .to_string()
                .contains("s3cr3t")
        );
    }

    #[test]
    fn a_host_and_port_without_a_scheme_is_told_so() {
        for url in ["127.0.0.1:37249", "localhost:8080", "api.example.test"] {
            let err = parse(url).unwrap_err();
            assert_eq!(
                err,
                TargetError::NoScheme {
                    shown: url.to_owned()
                }
            );
            assert!(
                err.to_string().contains(&format!("write http://{url}")),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_urls() {
        assert!(matches!(
            parse("not a url"),
            Err(TargetError::NotUrl { .. })
        ));
        assert!(matches!(parse("ftp://h"), Err(TargetError::Scheme { .. })));
    }
}
