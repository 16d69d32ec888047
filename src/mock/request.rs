//! The simulator's own request: what its rules need to answer one API call, taken out of HTTP
//! once by the edge (`http`, as wiremock-rs's `Request::from_hyper` does) or built in-process
//! with [`SimRequest::new`]. It borrows everything, so the edge builds it without copying.
//!
//! Also the one query parser of the simulator ([`read_query`]), used for the personalize flags
//! here and for the admin listing's paging. This module must not decide anything.

use std::collections::BTreeMap;

use super::state::PersonalizeFlags;
use crate::api::{Operation, personalize_flag};

/// Messages per field (a JSON pointer or a query parameter), as `validationErrors` carries them.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// One API request, as the simulator's rules read it.
#[derive(Debug, Clone)]
pub struct SimRequest<'a> {
    pub operation: Operation,
    /// The registration ID, percent-decoded (empty when it was not UTF-8 once decoded: it
    /// names no registration).
    pub registration_id: &'a str,
    /// The personalize query flags (choice `personalize.flags_strict_booleans`); `Err` names
    /// each flag with a value that is not a boolean, answered 400 after auth and AppCode.
    pub flags: Result<PersonalizeFlags, FieldErrors>,
    /// The `Authorization` header, as sent.
    pub authorization: Option<&'a [u8]>,
    /// The `AppCode` header, as sent.
    pub app_code: Option<&'a [u8]>,
    /// The `Content-Type` header, as sent.
    pub content_type: Option<&'a [u8]>,
    /// The body (empty when none was sent, or when the edge did not read it because its
    /// content type is one the rules refuse anyway).
    pub body: &'a [u8],
}

impl<'a> SimRequest<'a> {
    /// A request for `operation` on `registration_id` without credentials, AppCode or body.
    pub fn new(operation: Operation, registration_id: &'a str) -> SimRequest<'a> {
        SimRequest {
            operation,
            registration_id,
            flags: Ok(PersonalizeFlags::default()),
            authorization: None,
            app_code: None,
            content_type: None,
            body: &[],
        }
    }

    /// With this `Authorization` value (`App KEY`, `Basic …`).
    pub fn authorization(mut self, value: &'a str) -> SimRequest<'a> {
        self.authorization = Some(value.as_bytes());
        self
    }

    /// With this `AppCode`.
    pub fn app_code(mut self, code: &'a str) -> SimRequest<'a> {
        self.app_code = Some(code.as_bytes());
        self
    }

    /// With this JSON body, sent as `application/json`.
    pub fn json(mut self, body: &'a [u8]) -> SimRequest<'a> {
        self.content_type = Some(b"application/json");
        self.body = body;
        self
    }

    /// With these personalize flags.
    pub fn flags(mut self, flags: PersonalizeFlags) -> SimRequest<'a> {
        self.flags = Ok(flags);
        self
    }
}

/// The personalize flags of a query string (choice `personalize.flags_strict_booleans`):
/// `true` or `false` in any case; other parameters are ignored.
pub fn personalize_flags(query: Option<&str>) -> Result<PersonalizeFlags, FieldErrors> {
    let mut flags = PersonalizeFlags::default();
    let errors = read_query(
        query,
        &mut [
            (
                personalize_flag::FORCE_DEPERSONALIZE,
                &mut flags.force_depersonalize,
            ),
            (personalize_flag::KEEP_AS_LEAD, &mut flags.keep_as_lead),
            (personalize_flag::RETURN_PUSH, &mut flags.return_push),
            (
                personalize_flag::SET_DEVICE_AS_PRIMARY,
                &mut flags.set_device_as_primary,
            ),
        ],
        |value| {
            if value.eq_ignore_ascii_case("true") {
                Ok(true)
            } else if value.eq_ignore_ascii_case("false") {
                Ok(false)
            } else {
                Err("must be true or false".to_owned())
            }
        },
    );
    if errors.is_empty() {
        Ok(flags)
    } else {
        Err(errors)
    }
}

/// Reads `key=value&…` into the slot named by each key (the last occurrence wins); other keys
/// are ignored. Keys and values are decoded as a form is (`%XX`, `+` as a space; bytes that are
/// not UTF-8 become U+FFFD), as any HTTP server's query reader does, so `returnPush=%74rue` is
/// `true`. A value `parse` refuses leaves its slot as it was and is named under its key in the
/// errors returned.
pub(crate) fn read_query<T>(
    query: Option<&str>,
    slots: &mut [(&str, &mut T)],
    parse: impl Fn(&str) -> Result<T, String>,
) -> FieldErrors {
    let mut errors = FieldErrors::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let Some((_, slot)) = slots.iter_mut().find(|(name, _)| *name == key) else {
            continue;
        };
        match parse(&value) {
            Ok(parsed) => **slot = parsed,
            Err(message) => errors.entry(key.into_owned()).or_default().push(message),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_strictly() {
        let f = personalize_flags(Some("forceDepersonalize=TRUE&other=x")).unwrap();
        assert!(f.force_depersonalize && !f.return_push);
        let errors = personalize_flags(Some("returnPush=yes&keepAsLead")).unwrap_err();
        assert_eq!(
            errors.keys().collect::<Vec<_>>(),
            ["keepAsLead", "returnPush"]
        );
    }

    #[test]
    fn query_keys_and_values_are_decoded() {
        let f = personalize_flags(Some("return%50ush=%74rue&forceDepersonalize=fals%65")).unwrap();
        assert!(f.return_push && !f.force_depersonalize);
        let errors = personalize_flags(Some("returnPush=%FF")).unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["returnPush"]);
    }

    #[test]
    fn queries_fill_known_slots_and_name_bad_values() {
        let (mut limit, mut offset) = (100usize, 0usize);
        let errors = read_query(
            Some("limit=5&offset=x&limit=7&junk"),
            &mut [("limit", &mut limit), ("offset", &mut offset)],
            |v| {
                v.parse::<usize>()
                    .map_err(|_| "must be a whole number".to_owned())
            },
        );
        assert_eq!((limit, offset), (7, 0));
        assert_eq!(errors["offset"], ["must be a whole number"]);
    }
}
