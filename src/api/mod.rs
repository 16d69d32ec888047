//! What pushcheck knows about the API under test: the People v2 push contact-information API.
//!
//! This module is the one place that spells the API's paths, headers, operations, error codes and
//! the doc-vs-spec disagreements. Payload rules (field names, types, limits) live in `schemas/`
//! and are read through [`crate::schema`]; nothing else in the crate re-spells them. Facts are
//! tagged with where they come from, as in `shared/api-facts.md`: \[doc\] the product page,
//! \[spec\] the published OpenAPI description, \[sdk\] the mobile SDKs.
//!
//! This module must not depend on any runner, the simulator or the CLI.

pub mod auth;
pub mod client;
pub mod docs;
pub mod footprint;
pub mod learn;
mod per_op;
pub mod preflight;
pub mod redact;
pub mod target;
pub mod transport;

pub use per_op::PerOp;

/// Path prefix of every operation \[doc\]\[spec\].
pub const BASE_PATH: &str = "/people/2/contactInformation/push";

/// Header carrying the application code, required on every request \[doc\].
pub const APP_CODE_HEADER: &str = "AppCode";

/// Documented rate limit, per operation and account \[spec\]; over it the API answers 429.
pub const RATE_LIMIT_PER_SECOND: u32 = 50;

/// Push-specific error codes, sent as `{"errorCode": n, "errorMessage": ...}` with HTTP 400 \[spec\].
pub mod error_code {
    /// The `AppCode` header is missing.
    pub const APP_CODE_MISSING: i64 = 48001;
    /// No push application has that code.
    pub const APPLICATION_NOT_FOUND: i64 = 48012;
    /// No registration with that ID in the application (a 400, not a 404).
    pub const REGISTRATION_NOT_FOUND: i64 = 48013;
}

/// `messageId`s of the legacy error body \[spec\]\[sdk\].
pub mod message_id {
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const TOO_MANY_REQUESTS: &str = "TOO_MANY_REQUESTS";
    pub const GENERAL_ERROR: &str = "GENERAL_ERROR";
    pub const PERSONALIZATION_IMPOSSIBLE: &str = "PERSONALIZATION_IMPOSSIBLE";
    pub const AMBIGUOUS_PERSONALIZE_CANDIDATES: &str = "AMBIGUOUS_PERSONALIZE_CANDIDATES";
    pub const USER_MERGE_INTERRUPTED: &str = "USER_MERGE_INTERRUPTED";
    pub const USER_IDENTITY_INVALID: &str = "USER_IDENTITY_INVALID";
    pub const EMAIL_INVALID: &str = "EMAIL_INVALID";
    pub const PHONE_INVALID: &str = "PHONE_INVALID";
    pub const REQUEST_FORMAT_INVALID: &str = "REQUEST_FORMAT_INVALID";
}

/// Payload field names, as the docs spell them \[doc\]\[spec\]. The schemas in `schemas/` say
/// which fields exist and what they may hold; these constants are for code that builds a body or
/// reads one field back, so that no runner spells a name itself.
pub mod field {
    /// A registration's ID (`registrationId`), in GET and PATCH answers and in `push[]`.
    pub const REGISTRATION_ID: &str = "registrationId";
    /// The internal ID of the application a registration belongs to (read-only).
    pub const APPLICATION_ID: &str = "applicationId";
    /// Whether the device is its person's primary device.
    pub const IS_PRIMARY: &str = "isPrimary";
    /// The registration's custom attributes.
    pub const ADDITIONAL_DATA: &str = "additionalData";
    /// The registration's system data (`registrationEnabled` writable, the rest read-only).
    pub const SYSTEM_DATA: &str = "systemData";
    pub const REGISTRATION_ENABLED: &str = "registrationEnabled";
    /// A read-only field of `systemData`.
    pub const OS_VERSION: &str = "osVersion";
    /// The identity of a personalize request: `externalId`, `phoneNumber`, `email`.
    pub const IDENTITY: &str = "identity";
    /// A phone number in the identity of a personalize request.
    pub const PHONE_NUMBER: &str = "phoneNumber";
    /// An email address in the identity of a personalize request.
    pub const EMAIL: &str = "email";
    /// The person's external ID, in the identity and in the answer.
    pub const EXTERNAL_ID: &str = "externalId";
    /// The person attributes of a personalize request (`firstName`, `tags`, …, as the answer
    /// spells them too).
    pub const ATTRIBUTES: &str = "attributes";
    pub const FIRST_NAME: &str = "firstName";
    pub const LAST_NAME: &str = "lastName";
    pub const MIDDLE_NAME: &str = "middleName";
    pub const BIRTHDAY: &str = "birthday";
    pub const GENDER: &str = "gender";
    pub const TAGS: &str = "tags";
    /// The person's custom attributes.
    pub const CUSTOM_ATTRIBUTES: &str = "customAttributes";
    /// The person's type, `LEAD` or `CUSTOMER`.
    pub const TYPE: &str = "type";
    /// Contact information of a person: `phones[].number`, `emails[].address`, and with
    /// `returnPush` the devices, `push[].registrationId`.
    pub const CONTACT_INFORMATION: &str = "contactInformation";
    pub const PHONES: &str = "phones";
    /// A phone's number, in `contactInformation.phones[]`.
    pub const NUMBER: &str = "number";
    pub const EMAILS: &str = "emails";
    /// An email's address, in `contactInformation.emails[]`.
    pub const ADDRESS: &str = "address";
    pub const PUSH: &str = "push";
    /// The push error body's code (`{"errorCode": 48013, ...}`).
    pub const ERROR_CODE: &str = "errorCode";
    /// Where the legacy error body carries its `messageId`.
    pub const MESSAGE_ID_POINTER: &str = "/requestError/serviceException/messageId";

    /// A JSON pointer to the field at `path` (`["additionalData", "x"]` → `/additionalData/x`),
    /// each token escaped.
    pub fn pointer(path: &[&str]) -> String {
        path.iter()
            .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
            .collect()
    }
}

/// Optional boolean query flags of personalize \[doc\]\[spec\].
pub mod personalize_flag {
    /// Reset any previous personalization of the device first \[doc\].
    pub const FORCE_DEPERSONALIZE: &str = "forceDepersonalize";
    /// Do not promote the person from LEAD to CUSTOMER \[spec\].
    pub const KEEP_AS_LEAD: &str = "keepAsLead";
    /// List the person's push devices in the response \[spec\].
    pub const RETURN_PUSH: &str = "returnPush";
    /// Make this device the person's primary device \[spec\].
    pub const SET_DEVICE_AS_PRIMARY: &str = "setDeviceAsPrimary";
    /// All four, in the order the spec lists them.
    pub const ALL: [&str; 4] = [
        FORCE_DEPERSONALIZE,
        KEEP_AS_LEAD,
        RETURN_PUSH,
        SET_DEVICE_AS_PRIMARY,
    ];
}

/// The four operations of the API. There is no create and no delete: registrations are made by
/// the mobile SDKs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Get,
    Patch,
    Personalize,
    Depersonalize,
}

/// One documented error answer of an operation: its status and the error body schemas it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub status: u16,
    pub description: &'static str,
    /// Names of schemas in `schemas/`; any one of them is a valid body.
    pub schemas: &'static [&'static str],
}

const COMMON_ERRORS: &[ErrorAnswer] = &[
    ErrorAnswer {
        status: 400,
        description: "Bad request: AppCode missing (48001), application not found (48012), registration not found (48013), or invalid input",
        schemas: &["error-push", "error-legacy"],
    },
    ErrorAnswer {
        status: 401,
        description: "Missing or wrong credentials",
        schemas: &["error-legacy"],
    },
    ErrorAnswer {
        status: 403,
        description: "Credentials without the required scope",
        schemas: &["error-legacy"],
    },
    ErrorAnswer {
        status: 429,
        description: "Over the rate limit (50 requests/s per operation)",
        schemas: &["error-api", "error-legacy"],
    },
    ErrorAnswer {
        status: 500,
        description: "General error",
        schemas: &["error-legacy"],
    },
];

impl Operation {
    /// Every operation, in the doc's order.
    pub const ALL: [Operation; 4] = [
        Operation::Get,
        Operation::Patch,
        Operation::Personalize,
        Operation::Depersonalize,
    ];

    /// The operation's position in [`Operation::ALL`] (what [`PerOp`] is indexed by).
    pub fn index(self) -> usize {
        match self {
            Operation::Get => 0,
            Operation::Patch => 1,
            Operation::Personalize => 2,
            Operation::Depersonalize => 3,
        }
    }

    /// The spec's `operationId`.
    pub fn operation_id(self) -> &'static str {
        match self {
            Operation::Get => "get-push-device-registration",
            Operation::Patch => "update-push-device-registration",
            Operation::Personalize => "personalize-push-instance",
            Operation::Depersonalize => "depersonalize-push-instance",
        }
    }

    /// A short human name, used for metrics rows and report lines (never a registration ID).
    pub fn label(self) -> &'static str {
        match self {
            Operation::Get => "GET registration",
            Operation::Patch => "PATCH registration",
            Operation::Personalize => "POST personalize",
            Operation::Depersonalize => "POST depersonalize",
        }
    }

    /// HTTP method, as it is spelled on the wire (`GET`, `PATCH`, `POST`).
    pub fn method(self) -> &'static str {
        match self {
            Operation::Get => "GET",
            Operation::Patch => "PATCH",
            Operation::Personalize | Operation::Depersonalize => "POST",
        }
    }

    /// HTTP method, for HTTP libraries (reqwest, axum and goose share this type).
    pub fn http_method(self) -> reqwest::Method {
        match self {
            Operation::Get => reqwest::Method::GET,
            Operation::Patch => reqwest::Method::PATCH,
            Operation::Personalize | Operation::Depersonalize => reqwest::Method::POST,
        }
    }

    /// Path relative to [`BASE_PATH`] after the registration ID (empty, or `/personalize`...).
    fn suffix(self) -> &'static str {
        match self {
            Operation::Get | Operation::Patch => "",
            Operation::Personalize => "/personalize",
            Operation::Depersonalize => "/depersonalize",
        }
    }

    /// The OpenAPI path template, with `{pushRegId}`.
    pub fn path_template(self) -> String {
        format!("{BASE_PATH}/{{pushRegId}}{}", self.suffix())
    }

    /// The concrete path for one registration; the ID is percent-encoded as one path segment.
    pub fn path(self, registration_id: &str) -> String {
        format!(
            "{BASE_PATH}/{}{}",
            encode_path_segment(registration_id),
            self.suffix()
        )
    }

    /// Name of the schema the request body must follow, if the operation takes a body.
    pub fn request_schema(self) -> Option<&'static str> {
        match self {
            Operation::Patch => Some("patch-request"),
            Operation::Personalize => Some("personalize-request"),
            Operation::Get | Operation::Depersonalize => None,
        }
    }

    /// Name of the schema of the 200 body; `None` for depersonalize, whose 200 has an empty body.
    pub fn response_schema(self) -> Option<&'static str> {
        self.response_schemas().first().copied()
    }

    /// [`Operation::response_schema`] as a list, as [`Operation::error_schemas`] gives them:
    /// empty for depersonalize.
    pub fn response_schemas(self) -> &'static [&'static str] {
        match self {
            Operation::Get | Operation::Patch => &["push-registration"],
            Operation::Personalize => &["personalize-response"],
            Operation::Depersonalize => &[],
        }
    }

    /// Query flags the operation accepts.
    pub fn query_flags(self) -> &'static [&'static str] {
        match self {
            Operation::Personalize => &personalize_flag::ALL,
            _ => &[],
        }
    }

    /// Documented error answers \[spec\].
    pub fn error_answers(self) -> &'static [ErrorAnswer] {
        COMMON_ERRORS
    }

    /// The schemas an error answer with `status` may use (any one of them is valid); `None` when
    /// the operation documents no such error status.
    pub fn error_schemas(self, status: u16) -> Option<&'static [&'static str]> {
        self.error_answers()
            .iter()
            .find(|a| a.status == status)
            .map(|a| a.schemas)
    }

    /// Short summary for docs and the OpenAPI export.
    pub fn summary(self) -> &'static str {
        match self {
            Operation::Get => "Get push device registration",
            Operation::Patch => "Update push device registration",
            Operation::Personalize => "Personalize push device registration",
            Operation::Depersonalize => "Depersonalize push device registration",
        }
    }
}

/// Whether a Content-Type is JSON: `application/json`, with or without parameters, or a `+json`
/// suffix type. Every JSON body of the API is sent as one \[spec\].
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so an ID is one path segment.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_spellings_of_a_method_agree_and_index_is_the_position_in_all() {
        for (i, op) in Operation::ALL.into_iter().enumerate() {
            assert_eq!(op.http_method().as_str(), op.method());
            assert_eq!(op.index(), i);
        }
    }

    #[test]
    fn error_schemas_are_found_by_status() {
        assert_eq!(
            Operation::Get.error_schemas(401),
            Some(&["error-legacy"][..])
        );
        assert_eq!(Operation::Get.error_schemas(404), None);
    }

    #[test]
    fn field_pointers_escape_their_tokens() {
        assert_eq!(
            field::pointer(&[field::ADDITIONAL_DATA, "a/b~c"]),
            "/additionalData/a~1b~0c"
        );
    }

    #[test]
    fn paths_are_spelled_from_one_prefix() {
        assert_eq!(
            Operation::Personalize.path("a b/c"),
            "/people/2/contactInformation/push/a%20b%2Fc/personalize"
        );
        assert_eq!(
            Operation::Get.path_template(),
            "/people/2/contactInformation/push/{pushRegId}"
        );
    }
}
