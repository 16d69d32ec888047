//! The product documentation's JSON examples, embedded as fixtures, and the known disagreements
//! between the doc page and the published spec.
//!
//! The examples are the files under `tests/fixtures/docs/`, copied verbatim from
//! `shared/docs/contact-information-push.txt`. They are validated by tests and by
//! `pushcheck schemas lint-docs`, pin the expected payload shapes, and seed the simulator.

/// One JSON example from the documentation page.
#[derive(Debug, Clone, Copy)]
pub struct DocExample {
    /// Stable name, also the file stem under `tests/fixtures/docs/`.
    pub name: &'static str,
    /// Where it stands in the doc.
    pub title: &'static str,
    /// The schema it must follow.
    pub schema: &'static str,
    /// The example, as committed.
    pub json: &'static str,
}

macro_rules! doc_example {
    ($name:literal, $title:literal, $schema:literal) => {
        DocExample {
            name: $name,
            title: $title,
            schema: $schema,
            json: include_str!(concat!("../../tests/fixtures/docs/", $name, ".json")),
        }
    };
}

/// Every JSON example of the doc page, in page order.
pub const EXAMPLES: &[DocExample] = &[
    doc_example!(
        "get-response",
        "Get push device registration: response",
        "push-registration"
    ),
    doc_example!(
        "patch-request",
        "Update push device registration: request",
        "patch-request"
    ),
    doc_example!(
        "patch-response",
        "Update push device registration: response",
        "push-registration"
    ),
    doc_example!(
        "personalize-request",
        "Personalize: request",
        "personalize-request"
    ),
    doc_example!(
        "personalize-response",
        "Personalize: response",
        "personalize-response"
    ),
];

/// Looks an example up by name.
pub fn example(name: &str) -> Option<&'static DocExample> {
    EXAMPLES.iter().find(|e| e.name == name)
}

/// A point where the doc page and the published spec (or the doc and itself) disagree.
#[derive(Debug, Clone, Copy)]
pub struct Disagreement {
    pub topic: &'static str,
    pub doc: &'static str,
    pub spec: &'static str,
    /// What pushcheck does about it.
    pub pushcheck: &'static str,
    /// Where a published OpenAPI file shows it: findings of `pushcheck schemas diff` that match
    /// a spot are reported as `known`.
    pub spots: &'static [DiffSpot],
}

/// A place where `schemas diff` expects a known disagreement to show.
#[derive(Debug, Clone, Copy)]
pub struct DiffSpot {
    /// A response status (`"400"`), or `None` for any part of the operation.
    pub status: Option<&'static str>,
    /// The payload field: a JSON pointer where `*` is any one token and a leading `**` any
    /// prefix (`**/birthday`); `""` is the body itself.
    pub field: &'static str,
    /// The finding's kind, as `schemas diff` spells it (`format-changed`).
    pub kind: &'static str,
}

const fn spot(field: &'static str, kind: &'static str) -> DiffSpot {
    DiffSpot {
        status: None,
        field,
        kind,
    }
}

/// Disagreements known from `shared/api-facts.md`.
pub const DISAGREEMENTS: &[Disagreement] = &[
    Disagreement {
        topic: "person birthday format",
        doc: "a date: \"birthday\": \"1985-07-12\"",
        spec: "format date-time",
        pushcheck: "accepts either; lint-docs says which one each example follows",
        spots: &[spot("**/birthday", "format-changed")],
    },
    Disagreement {
        topic: "custom attribute values (additionalData)",
        doc: "a string, number, boolean or YYYY-MM-DD date (\"receiveOTP\": true)",
        spec: "every value is a JSON object",
        pushcheck: "follows the doc: an object value is a violation",
        spots: &[
            spot("**/additionalData/*", "type-changed"),
            spot("**/customAttributes/*", "type-changed"),
        ],
    },
    Disagreement {
        topic: "systemData.cloudType",
        doc: "in the GET example (\"GCM\") but not in the field table",
        spec: "enum GCM, APNS, HMS, WEB",
        pushcheck: "documents it with the spec's enum",
        spots: &[],
    },
    Disagreement {
        topic: "PATCH example body",
        doc: "misspells isPrimary as \"isPrmary\"; its response shows isPrimary false",
        spec: "isPrimary",
        pushcheck: "lenient mode lets the unknown field through (as the API appears to); strict mode flags /isPrmary",
        spots: &[],
    },
    Disagreement {
        topic: "depersonalize rate limit",
        doc: "an older version said 30 requests/s",
        spec: "50 requests/s, like the other three operations",
        pushcheck: "uses 50/s",
        spots: &[],
    },
    Disagreement {
        topic: "person contact keys",
        doc: "personalize answers with plural phones/emails and birthday",
        spec: "the full person resource (/people/2/persons) uses singular phone/email and birthDate",
        pushcheck: "the personalize response schema uses the plural keys and birthday",
        spots: &[
            spot("/contactInformation/phones", "field-removed"),
            spot("/contactInformation/emails", "field-removed"),
            spot("/contactInformation/phone", "field-added"),
            spot("/contactInformation/email", "field-added"),
            spot("/birthDate", "field-added"),
        ],
    },
    Disagreement {
        topic: "deleting a custom attribute",
        doc: "documents no delete",
        spec: "a custom attribute value is never null",
        pushcheck: "sends the attribute as null to delete it, as the vendor's mobile SDKs do [sdk], and reads the device back to see whether the target honoured it",
        spots: &[spot("**/additionalData/*", "nullable-removed")],
    },
    Disagreement {
        topic: "400 error bodies",
        doc: "silent; the mobile SDKs parse the legacy requestError.serviceException shape",
        spec: "the body of every 400 of the four operations is {errorCode, errorMessage} only",
        pushcheck: "accepts either shape on a 400",
        spots: &[DiffSpot {
            status: Some("400"),
            field: "",
            kind: "error-body-changed",
        }],
    },
];
