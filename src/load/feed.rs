//! The data feed: which registrations the load touches, and who may write each one.
//!
//! Registrations come from the simulator's admin listing (the default) or from a file for a live
//! account, where there is no create endpoint and IDs must be given. Writes are partitioned so
//! that each registration has exactly one writer: user `u` of `U` writes only the registrations at
//! positions `u, u + U, u + 2U, …`. That single writer is what makes "no acknowledged write was
//! lost" checkable after the run. Reads go anywhere.
//!
//! This module does not spell API paths: [`crate::api::Operation::path`] does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::header::HeaderValue;

use crate::api::{Operation, personalize_flag};

use crate::mock::{ADMIN_REGISTRATIONS, AdminClient, AdminError};

/// Page size used when reading the admin listing.
const PAGE: usize = 1000;

/// One registration of the feed, with everything a request needs prepared once.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub registration_id: Arc<str>,
    pub app_code: HeaderValue,
    /// `path(Get)` (also PATCH's), `path(Personalize)`, `path(Depersonalize)`.
    pub(crate) paths: [Box<str>; 3],
    /// Personalize's path with the flags the load sends: `setDeviceAsPrimary`, and
    /// `forceDepersonalize` unless [`FeedEntry::for_live`] took it away.
    pub(crate) personalize_with_flags: Box<str>,
    /// The load may personalize and depersonalize this device: false for a device that belonged
    /// to a person before a live run (see [`crate::load::restore`]).
    pub persons: bool,
}

impl FeedEntry {
    /// The path the load requests for `op` on this registration (personalize with its flags).
    pub fn request_path(&self, op: Operation) -> &str {
        match op {
            Operation::Personalize => &self.personalize_with_flags,
            _ => self.path(op),
        }
    }

    /// A feed entry; fails when the app code cannot be a header value.
    pub fn new(registration_id: &str, app_code: &str) -> Result<FeedEntry, String> {
        let app_code = HeaderValue::from_str(app_code)
            .map_err(|_| format!("app code {app_code:?} cannot be sent as a header"))?;
        Ok(FeedEntry {
            registration_id: Arc::from(registration_id),
            app_code,
            paths: [
                Operation::Get.path(registration_id).into(),
                Operation::Personalize.path(registration_id).into(),
                Operation::Depersonalize.path(registration_id).into(),
            ],
            personalize_with_flags: format!(
                "{}?{}=true&{}=true",
                Operation::Personalize.path(registration_id),
                personalize_flag::FORCE_DEPERSONALIZE,
                personalize_flag::SET_DEVICE_AS_PRIMARY
            )
            .into(),
            persons: true,
        })
    }

    /// The entry as a live run sends it: personalize without `forceDepersonalize`, so that a
    /// load personalize never moves a device away from a person (one who took the device
    /// during the run gets to keep it: the load's personalize is refused instead).
    pub fn for_live(mut self) -> FeedEntry {
        self.personalize_with_flags = format!(
            "{}?{}=true",
            Operation::Personalize.path(&self.registration_id),
            personalize_flag::SET_DEVICE_AS_PRIMARY
        )
        .into();
        self
    }

    /// The request path of `op` for this registration.
    pub fn path(&self, op: Operation) -> &str {
        &self.paths[path_slot(op)]
    }
}

/// Where a feed entry keeps the path of `op`: GET and PATCH share one.
pub(crate) fn path_slot(op: Operation) -> usize {
    match op {
        Operation::Get | Operation::Patch => 0,
        Operation::Personalize => 1,
        Operation::Depersonalize => 2,
    }
}

/// Where the feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// The simulator's `GET /__pushcheck/registrations`.
    Admin,
    /// A text file: one registration per line, `ID` or `ID<TAB or comma>APPCODE`; `#` comments.
    File(PathBuf),
    /// These registrations (`check`'s `--registration-id` list on a live target), each with
    /// the run's app code.
    Registrations(Vec<String>),
}

/// The registrations of a run.
#[derive(Debug, Clone, Default)]
pub struct Feed {
    pub entries: Vec<FeedEntry>,
}

/// The feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("cannot read the feed file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}", path = path.display())]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("cannot read the registration listing at {url}: {message}")]
    Admin { url: String, message: String },
    #[error("the feed is empty: {0}")]
    Empty(String),
    #[error("{}", crate::api::transport::untrusted_message(base_url, reason))]
    Untrusted { base_url: String, reason: String },
}

impl Feed {
    /// Reads a feed file; lines without an app code get `default_app_code`.
    pub fn from_file(path: &Path, default_app_code: Option<&str>) -> Result<Feed, FeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| FeedError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| FeedError::Line {
                path: path.to_owned(),
                line: i + 1,
                message,
            };
            let columns: Vec<&str> = line.split(['\t', ',']).map(str::trim).collect();
            let (id, app) = match columns.as_slice() {
                [id] => (*id, None),
                [id, app] if !app.is_empty() => (*id, Some(*app)),
                _ => {
                    return Err(err(format!(
                        "expected `ID` or `ID,APPCODE`, found {} columns",
                        columns.len()
                    )));
                }
            };
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err(err(format!("{id:?} is not a registration ID")));
            }
            let app = app.or(default_app_code).ok_or_else(|| {
                err("no app code on this line and no --app-code given".to_owned())
            })?;
            entries.push(FeedEntry::new(id, app).map_err(err)?);
        }
        if entries.is_empty() {
            return Err(FeedError::Empty(format!(
                "{} lists no registration",
                path.display()
            )));
        }
        Ok(Feed { entries })
    }

    /// The given registrations, each with `app_code`.
    pub fn from_ids(ids: &[String], app_code: Option<&str>) -> Result<Feed, FeedError> {
        let app = app_code.ok_or_else(|| {
            FeedError::Empty("the registrations need an app code: --app-code".to_owned())
        })?;
        let entries = ids
            .iter()
            .map(|id| {
                FeedEntry::new(id, app)
                    .map_err(|message| FeedError::Empty(format!("{id:?}: {message}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if entries.is_empty() {
            return Err(FeedError::Empty("no registration given".to_owned()));
        }
        Ok(Feed { entries })
    }

    /// Reads up to `limit` registrations from a simulator's admin listing at `base_url`.
    pub async fn from_admin(
        client: &reqwest::Client,
        base_url: &str,
        authorization: &HeaderValue,
        limit: usize,
    ) -> Result<Feed, FeedError> {
        let admin = AdminClient::new(client.clone(), base_url, authorization.clone());
        let url = admin.url(ADMIN_REGISTRATIONS);
        let admin_err = |message: String| FeedError::Admin {
            url: url.clone(),
            message,
        };
        let mut entries = Vec::new();
        loop {
            let page_size = PAGE.min(limit - entries.len());
            let page = match admin.registrations(page_size, entries.len()).await {
                Ok(page) => page,
                Err(AdminError::Unreachable { message, .. }) => return Err(admin_err(message)),
                Err(AdminError::Untrusted { reason, .. }) => {
                    return Err(FeedError::Untrusted {
                        base_url: base_url.to_owned(),
                        reason,
                    });
                }
                Err(AdminError::Status { status, .. }) => {
                    return Err(admin_err(format!(
                        "HTTP {status} (is the target a pushcheck simulator? for a live account give --feed FILE)"
                    )));
                }
                Err(AdminError::Body { message, .. }) => {
                    return Err(admin_err(format!("unexpected body: {message}")));
                }
            };
            let got = page.registrations.len();
            for r in page.registrations {
                entries.push(FeedEntry::new(&r.registration_id, &r.app_code).map_err(admin_err)?);
            }
            if got == 0 || entries.len() >= page.total.min(limit) {
                break;
            }
        }
        if entries.is_empty() {
            return Err(FeedError::Empty(format!(
                "the simulator at {base_url} lists no registration"
            )));
        }
        Ok(Feed { entries })
    }

    /// Number of registrations.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Positions of the registrations user `user` of `users` writes: its partition.
    pub fn partition(&self, user: usize, users: usize) -> impl Iterator<Item = usize> + '_ {
        (user..self.entries.len()).step_by(users.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_disjoint_and_cover_the_feed() {
        let feed = Feed {
            entries: (0..10)
                .map(|i| FeedEntry::new(&format!("r{i}"), "app").unwrap())
                .collect(),
        };
        let mut seen: Vec<usize> = (0..3).flat_map(|u| feed.partition(u, 3)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(feed.partition(5, 20).count(), 1);
        assert_eq!(feed.partition(15, 20).count(), 0);
    }
}
