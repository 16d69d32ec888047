//! The simulator's answers where the documentation is silent, listed once, as data.
//!
//! Each [`Choice`] has a stable id. The contract suite marks the cases that rely on a choice with
//! its id and skips them against a live target, because the live API may have chosen otherwise.
//! The same list is rendered in the `mock` module documentation; a unit test keeps the two in
//! step. This module must not hold behaviour: the code that implements a choice cites its id.

/// One undocumented behaviour the simulator picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// Stable id, `area.what` (e.g. `patch.read_only_fields_ignored`).
    pub id: &'static str,
    /// What the simulator does.
    pub behaviour: &'static str,
    /// Why this and not something else.
    pub reason: &'static str,
}

/// Looks a choice up by id.
pub fn choice(id: &str) -> Option<&'static Choice> {
    CHOICES.iter().find(|c| c.id == id)
}

/// Every choice, grouped by area.
pub const CHOICES: &[Choice] = &[
    Choice {
        id: "request.check_order",
        behaviour: "Checks run in this order: route (404), method (405), injected faults, Authorization (401), AppCode (400 48001, 48012), body (413, 408, 400), registration (400 48013).",
        reason: "The usual gateway order: a caller without credentials learns nothing about applications or registrations.",
    },
    Choice {
        id: "auth.no_scopes",
        behaviour: "Every accepted credential carries every scope; 403 is never sent.",
        reason: "Scopes belong to the account's key management, which the simulator does not model.",
    },
    Choice {
        id: "request.content_type_json",
        behaviour: "PATCH and personalize need Content-Type application/json (parameters such as charset allowed); anything else is 400 BAD_REQUEST.",
        reason: "The doc's requests send it; a form-encoded body is a client bug worth surfacing.",
    },
    Choice {
        id: "request.body_limit_413",
        behaviour: "A body over the configured limit (default 1 MiB) is 413 with a legacy body, messageId BAD_REQUEST.",
        reason: "No limit is published; 1 MiB holds thousands of custom attributes at their documented maximum size.",
    },
    Choice {
        id: "request.read_timeouts",
        behaviour: "A connection that has not sent a whole request head within 10 s (also when idle between requests) is closed without an answer; a body that has not arrived within 10 s of its head is 408 with a legacy body, messageId BAD_REQUEST, and the connection is closed.",
        reason: "A client sending slowly must not hold the simulator hostage; 408 is HTTP's own answer for a late body and the legacy shape is the API's for generic HTTP errors.",
    },
    Choice {
        id: "errors.method_not_allowed_405",
        behaviour: "A known path with another method is 405 with an Allow header and a legacy body, messageId BAD_REQUEST.",
        reason: "The legacy shape is the one the API uses for generic HTTP errors; no dedicated messageId is documented.",
    },
    Choice {
        id: "errors.validation_errors_json_pointer",
        behaviour: "Schema violations of a body are 400 BAD_REQUEST whose validationErrors is keyed by the JSON pointer of the offending field (`/additionalData/x`; the empty key is the whole body).",
        reason: "JSON pointers are unambiguous for names containing dots; the field names come from schemas/, so limits are spelled only there.",
    },
    Choice {
        id: "errors.uri_and_header_limits",
        behaviour: "A request line longer than 65 534 bytes gets 414 and oversized headers get 431, both with an empty body, from the HTTP layer; a long registration ID within those limits is 400 48013.",
        reason: "These limits sit in front of any application code, as a gateway's would.",
    },
    Choice {
        id: "limits.custom_attribute_count",
        behaviour: "A registration's additionalData (and a person's customAttributes) holds at most 100 attributes; a PATCH or personalize that would leave more is 400 BAD_REQUEST with validationErrors at /additionalData (or /attributes/customAttributes), and nothing is stored.",
        reason: "No count is published; 100 matches the person model's other per-person lists (100 phones, 100 emails). 400 in the shape of every other body rule, because the spec lets a 400 carry it and no push errorCode (480xx) names this case; 413 is about bytes, not count.",
    },
    Choice {
        id: "limits.custom_attribute_number_range",
        behaviour: "Custom attribute numbers lie in -9223372036854775808..9223372036854775807: the schema's minimum and maximum, plus an exact check for integers that JSON parsing rounds into the range (-9223372036854775809 parses as the float -9223372036854775808.0), which are refused, never stored as a float.",
        reason: "The doc gives the maximum of a signed 64-bit integer; the minimum is the same type's.",
    },
    Choice {
        id: "personalize.email_rule",
        behaviour: "An identity email must match the pattern of schemas/personalize-request.json (local part, @, at least two dot-separated labels, no spaces, one @; at most 255 characters); any other is 400 EMAIL_INVALID. The simulator checks it with that schema, so the two cannot disagree.",
        reason: "The doc gives no email syntax; one loose rule, shared, is better than two that drift.",
    },
    Choice {
        id: "patch.read_only_fields_ignored",
        behaviour: "Read-only and unknown fields in a PATCH body (registrationId, applicationId, systemData.os, isPrmary, ...) are silently ignored.",
        reason: "Matches the doc's own example, whose misspelled isPrmary leaves isPrimary false in the response.",
    },
    Choice {
        id: "patch.additional_data_merged",
        behaviour: "additionalData in a PATCH body is merged key by key into the stored attributes; keys not sent are kept; a key sent as null deletes that attribute (a registration left with none has no additionalData).",
        reason: "PATCH semantics (as in JSON Merge Patch, RFC 7396); the doc shows a single attribute being set; null as delete is how the vendor's mobile SDKs remove one, and lets a live run put a device back as it found it.",
    },
    Choice {
        id: "primary.unpersonalized_device",
        behaviour: "isPrimary can be set on a device that belongs to no person; when the device is then attached to a person, isPrimary is reset to the value of setDeviceAsPrimary.",
        reason: "Keeps 'at most one primary device per person' true at every moment without rejecting SDK writes.",
    },
    Choice {
        id: "primary.cleared_on_detach",
        behaviour: "Depersonalizing a device (or moving it with forceDepersonalize) sets its isPrimary to false.",
        reason: "A device that belongs to nobody is nobody's primary device.",
    },
    Choice {
        id: "personalize.conflict_status_400",
        behaviour: "PERSONALIZATION_IMPOSSIBLE, AMBIGUOUS_PERSONALIZE_CANDIDATES, USER_MERGE_INTERRUPTED, USER_IDENTITY_INVALID and EMAIL_INVALID are HTTP 400 with the legacy body.",
        reason: "The HTTP status is not published; api-facts.md names 400 as the likely one.",
    },
    Choice {
        id: "personalize.new_identity_is_another_person",
        behaviour: "A device bound to person A, personalized with an identity that matches nobody, is 'another person': PERSONALIZATION_IMPOSSIBLE without forceDepersonalize, a new person with it.",
        reason: "Adding the identity to A silently would merge two people the caller meant to keep apart.",
    },
    Choice {
        id: "personalize.identity_added_to_match",
        behaviour: "When the identity matches one person, the phone number and email it carries are added to that person; an externalId different from the person's existing one is USER_MERGE_INTERRUPTED.",
        reason: "A person has many phones and emails but one externalId.",
    },
    Choice {
        id: "personalize.attributes_replace_fields_merge_custom",
        behaviour: "Attributes given overwrite the person's fields (tags included: the list is replaced); customAttributes are merged key by key; fields not given are kept.",
        reason: "The doc's example answers with exactly the tags sent.",
    },
    Choice {
        id: "personalize.type_lead_promoted",
        behaviour: "A new person starts as LEAD; personalize promotes a LEAD to CUSTOMER unless keepAsLead=true. The response carries `type`.",
        reason: "The spec describes keepAsLead as 'do not promote from LEAD to CUSTOMER'.",
    },
    Choice {
        id: "personalize.return_push_same_application",
        behaviour: "With returnPush=true, contactInformation.push lists the person's devices in the application named by AppCode, as full registrations.",
        reason: "AppCode scopes every push call; devices of other applications are not the caller's to see.",
    },
    Choice {
        id: "personalize.flags_strict_booleans",
        behaviour: "Query flags accept true or false (any case); another value is 400 BAD_REQUEST naming the flag; unknown parameters are ignored.",
        reason: "A typo in a flag value should not silently mean false.",
    },
    Choice {
        id: "depersonalize.person_kept",
        behaviour: "A person left with no device is kept, with its identities; personalizing again with them finds it.",
        reason: "People are contacts in their own right; push is one of their channels.",
    },
    Choice {
        id: "depersonalize.unpersonalized_ok",
        behaviour: "Depersonalizing a device that belongs to no person is 200 with an empty body.",
        reason: "Idempotent: the state asked for already holds.",
    },
    Choice {
        id: "rate_limit.api_error_shape",
        behaviour: "Over the per-operation rate limit (fault injection, off by default) the answer is 429 in the newer error shape, errorCode E429.",
        reason: "The vendor says most endpoints now answer 429 in that shape.",
    },
    Choice {
        id: "seed.unpersonalized_devices",
        behaviour: "Seeded registrations belong to no person, isPrimary false, registrationEnabled true; the first one is the doc's GET example.",
        reason: "That is the state an SDK installation starts in; the doc's example keeps the doc's requests reproducible.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_rendered_in_the_module_doc() {
        let doc = include_str!("mod.rs");
        for (i, c) in CHOICES.iter().enumerate() {
            assert!(
                CHOICES[..i].iter().all(|o| o.id != c.id),
                "duplicate choice id {}",
                c.id
            );
            assert!(
                doc.contains(&format!("`{}`", c.id)),
                "choice {} is not in the table of src/mock/mod.rs",
                c.id
            );
        }
        assert!(choice("patch.read_only_fields_ignored").is_some());
    }
}
