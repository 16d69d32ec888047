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
    /// What the published file must say there (`none`: no limit), or `None` for anything.
    pub published: Option<&'static str>,
}

const fn spot(field: &'static str, kind: &'static str) -> DiffSpot {
    DiffSpot {
        status: None,
        field,
        kind,
        published: None,
    }
}

/// A spot where the published file says no more than `published` (a limit it lacks: `none`).
const fn spot_saying(field: &'static str, kind: &'static str, published: &'static str) -> DiffSpot {
    DiffSpot {
        published: Some(published),
        ..spot(field, kind)
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
        pushcheck: "accepts either shape on a 400; `pushcheck mock --errors published` answers the file's shape",
        spots: &[DiffSpot {
            status: Some("400"),
            field: "",
            kind: "error-body-changed",
            published: None,
        }],
    },
    Disagreement {
        topic: "legacy error body: what is guaranteed",
        doc: "silent; the mobile SDKs take a body holding requestError.serviceException for an error [sdk]",
        spec: "ApiException declares requestError, serviceException, messageId and text, every one optional",
        pushcheck: "messageId and text optional, as the file says; requestError.serviceException required: it tells the legacy shape from the others (without it any object would pass as one)",
        spots: &[
            spot("/requestError", "required-removed"),
            spot("/requestError/serviceException", "required-removed"),
        ],
    },
    Disagreement {
        topic: "429 error bodies",
        doc: "silent; the vendor's general error documentation says most endpoints now answer 429 as {errorCode E429, description, action, violations, resources}",
        spec: "every 429 of the four operations is the legacy ApiException body only",
        pushcheck: "accepts either shape on a 429",
        spots: &[DiffSpot {
            status: Some("429"),
            field: "",
            kind: "error-body-changed",
            published: None,
        }],
    },
    Disagreement {
        topic: "404 answers",
        doc: "silent",
        spec: "declares a 404 (legacy NOT_FOUND body) on every operation, a response shared by the whole People API; its own 400 examples answer an unknown registration with 48013",
        pushcheck: "a 404 is not an answer of the four operations: an unknown registration is 400/48013, and a 404 for it fails the unknown-ID cases",
        spots: &[DiffSpot {
            status: Some("404"),
            field: "",
            kind: "status-added",
            published: None,
        }],
    },
    Disagreement {
        topic: "custom attribute limits",
        doc: "an attribute name is at most 256 characters (a string value 4096, a number 9223372036854775807)",
        spec: "no limit on names (values are declared as objects)",
        pushcheck: "follows the doc, for a device's additionalData and a person's customAttributes alike",
        spots: &[
            spot_saying("**/additionalData", "limit-loosened", "none"),
            spot_saying("**/customAttributes", "limit-loosened", "none"),
        ],
    },
    Disagreement {
        topic: "person field limits",
        doc: "silent",
        spec: "the full person resource (/people/2/persons) limits externalId to 256 characters, names to 255, middleName to 50, email to 255 and a phone to 50; the push operations' own schemas state no limit or pattern",
        pushcheck: "applies the person resource's limits (the same person is stored) and sends phone numbers as digits",
        spots: &[
            spot_saying("**/externalId", "limit-loosened", "none"),
            spot_saying("**/firstName", "limit-loosened", "none"),
            spot_saying("**/lastName", "limit-loosened", "none"),
            spot_saying("**/middleName", "limit-loosened", "none"),
            spot_saying("**/email", "limit-loosened", "none"),
            spot_saying("**/email", "pattern-changed", "no pattern"),
            spot_saying("**/phoneNumber", "pattern-changed", "no pattern"),
        ],
    },
    Disagreement {
        topic: "externalId null",
        doc: "the strings \"null\", \"Null\" and \"NULL\" are taken as JSON null: null is a value externalId can have",
        spec: "externalId is a string, never null",
        pushcheck: "follows the doc: null is accepted in the identity and in the person",
        spots: &[spot("**/externalId", "nullable-removed")],
    },
    Disagreement {
        topic: "personalize response: contact information",
        doc: "the person is shown with contactInformation: phones [{number}] and emails [{address}]",
        spec: "contactInformation, number and address are all optional",
        pushcheck: "follows the doc: the answer says whom the device was bound to, and an entry without its number or address names nothing",
        spots: &[
            spot("/contactInformation", "required-removed"),
            spot("/contactInformation/phones/*/number", "required-removed"),
            spot("/contactInformation/emails/*/address", "required-removed"),
        ],
    },
    Disagreement {
        topic: "person type in the personalize response",
        doc: "shows no type",
        spec: "keepAsLead \"prevents the promotion from Lead to Customer\", but the personalize response declares no type",
        pushcheck: "documents type (CUSTOMER, LEAD) as optional: it is how a client sees what keepAsLead did; the cases that read it skip a target that does not answer it",
        spots: &[spot("/type", "field-removed")],
    },
    Disagreement {
        topic: "rate limit of personalize",
        doc: "silent",
        spec: "personalize is throttled at 50 requests/s (x-throttling-info) but, unlike the other three, declares no 429",
        pushcheck: "documents a 429 for all four operations",
        spots: &[DiffSpot {
            status: Some("429"),
            field: "",
            kind: "status-missing",
            published: None,
        }],
    },
];
