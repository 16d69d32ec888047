//! Planted defects: a catalogue of ways the simulator can be told to break exactly one documented
//! behaviour, so that every contract case can be shown to fail on a server that gets it wrong.
//!
//! A check is only as good as the broken server it fails on. `pushcheck mock --defect NAME` (and
//! [`SimulatorConfig::defects`](super::SimulatorConfig::defects)) starts a simulator with one or
//! more of these; the kill-matrix test runs the contract suite against each and asserts which
//! cases catch it. Where the docs are silent the simulator follows its [`CHOICES`](super::CHOICES);
//! a defect breaks either a documented behaviour or, where a case checks one, such a choice (its
//! `breaks` text says which).
//!
//! There are two kinds, by where they live:
//! - **rule** defects are consulted by the rules themselves at named points:
//!   `if self.defects.has(Defect::ForceTrueIgnored)`. Those that change a data rule (which
//!   registrations are found, identity merging, one primary device, read-only systemData, a
//!   registration removed) in `state`; those about hearing a request or answering a write (auth,
//!   AppCode, flags, attributes, PATCH answers, depersonalize) in `rules`; the body-level ones in
//!   `validate` and `decode`. One [`Defects`] value is held by the rules (and planted in the
//!   state); nothing is threaded through the operations.
//! - **edge** defects change what goes on the wire after the rules have answered (content type,
//!   error shapes, response fields); they live in `edge` and nowhere else.
//!
//! With no defect planted (the default) every check is one branch on an empty bit set.
//! This module holds the catalogue as data and must not hold behaviour.

use std::fmt;

/// Where a defect is planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// In the rules: the state, auth, AppCode or body checks.
    Rule,
    /// At the HTTP edge: what is sent, after the rules answered.
    Edge,
}

impl Layer {
    /// `rule` or `edge`.
    pub fn label(self) -> &'static str {
        match self {
            Layer::Rule => "rule",
            Layer::Edge => "edge",
        }
    }
}

/// One entry of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefectInfo {
    pub defect: Defect,
    /// Stable name, `area.what`, as given to `--defect`.
    pub name: &'static str,
    pub layer: Layer,
    /// The documented behaviour (or simulator choice) it breaks.
    pub breaks: &'static str,
    /// What the simulator does instead.
    pub instead: &'static str,
}

macro_rules! catalogue {
    ($($variant:ident = $name:literal, $layer:ident, $breaks:literal, $instead:literal;)*) => {
        /// A planted defect; see [`DEFECTS`] for what each one breaks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Defect { $($variant),* }

        /// The catalogue, in a stable order (requests, responses, PATCH, personalize, depersonalize).
        pub const DEFECTS: &[DefectInfo] = &[
            $(DefectInfo {
                defect: Defect::$variant,
                name: $name,
                layer: Layer::$layer,
                breaks: $breaks,
                instead: $instead,
            }),*
        ];
    };
}

catalogue! {
    AuthNotChecked = "auth.not_checked", Rule,
        "Missing or wrong credentials are refused with 401 [doc].",
        "Every request is served as if its credentials were valid.";
    AuthBasicRefused = "auth.basic_refused", Rule,
        "Basic credentials are accepted [doc].",
        "Authorization: Basic is answered 401.";
    AuthAppRefused = "auth.app_refused", Rule,
        "App API keys are accepted [doc].",
        "Authorization: App is answered 401.";
    AuthIbssoRefused = "auth.ibsso_refused", Rule,
        "IBSSO session tokens are accepted [doc].",
        "Authorization: IBSSO is answered 401.";
    AuthBearerRefused = "auth.bearer_refused", Rule,
        "Bearer OAuth2 tokens are accepted [doc].",
        "Authorization: Bearer is answered 401.";
    AppCodeNotChecked = "appcode.not_checked", Rule,
        "A missing AppCode is 400/48001, an unknown one 400/48012 [doc].",
        "A missing or unknown AppCode is served as the first application.";
    OtherApplicationVisible = "registration.other_application_visible", Rule,
        "A registration of another application is not found: 400/48013 [spec].",
        "Registrations of every application are found, whatever the AppCode.";
    UnknownId404 = "errors.unknown_id_404", Edge,
        "An unknown registration ID is HTTP 400 with errorCode 48013, not a 404 [spec].",
        "An unknown registration ID is answered 404 with a legacy NOT_FOUND body.";
    PushErrorShape = "errors.push_shape", Edge,
        "Errors 48001/48012/48013 carry {errorCode, errorMessage} [spec].",
        "Errors 48001/48012/48013 carry {\"error\": {\"code\", \"message\"}}, an undocumented shape.";
    LegacyErrorShape = "errors.legacy_shape", Edge,
        "Legacy errors carry requestError.serviceException {messageId, text} [spec].",
        "Legacy errors carry a flat {messageId, text}, without requestError.serviceException.";
    ContentTypeNotJson = "response.content_type", Edge,
        "2xx JSON bodies are sent as Content-Type application/json [doc].",
        "2xx JSON bodies are sent as Content-Type text/plain.";
    ApplicationIdMissing = "response.application_id_missing", Edge,
        "Every registration body has its required applicationId [spec].",
        "Registration bodies (GET, PATCH, contactInformation.push) lack applicationId.";
    ApplicationIdOther = "response.application_id_other", Edge,
        "Every registration body of one application carries that application's applicationId [doc].",
        "Registration bodies (GET, PATCH, contactInformation.push) carry another application's applicationId.";
    PhoneNumberNotString = "response.phone_number_not_string", Edge,
        "contactInformation.phones[].number is a string [doc].",
        "contactInformation.phones[].number is sent as a JSON number.";
    WrongRegistrationId = "get.wrong_registration_id", Edge,
        "GET answers the registration whose ID was asked for [doc].",
        "The GET body's registrationId is another ID.";
    MalformedJsonAccepted = "request.malformed_json_accepted", Rule,
        "A body that is not JSON is refused with 400 [spec].",
        "A body that is not JSON is taken as {} and the write answers 200.";
    ContentTypeNotChecked = "request.content_type_not_checked", Rule,
        "A body that is not Content-Type application/json is 400 (choice request.content_type_json).",
        "Any content type is parsed as JSON.";
    AttributeNameLength = "limit.attribute_name_length", Rule,
        "Custom attribute names are at most 256 characters [doc].",
        "Longer names are accepted and stored.";
    StringValueLength = "limit.string_value_length", Rule,
        "Custom attribute strings are at most 4096 characters [doc].",
        "Longer strings are accepted and stored.";
    NumberRange = "limit.number_range", Rule,
        "Custom attribute numbers are at most 9223372036854775807 [doc].",
        "Numbers out of range are accepted and stored.";
    DateCalendar = "limit.date_calendar", Rule,
        "A custom attribute date YYYY-MM-DD is a real calendar date [doc].",
        "Impossible dates such as 2024-02-30 are accepted and stored.";
    ReadOnlyRefused = "patch.read_only_refused", Rule,
        "Read-only and unknown fields of a PATCH body are ignored, as the doc's example (isPrmary) shows (choice patch.read_only_fields_ignored).",
        "A PATCH body with any such field is refused with 400.";
    ReadOnlyWritten = "patch.read_only_written", Rule,
        "Only systemData.registrationEnabled is writable; the rest of systemData is read-only [doc].",
        "A PATCH body with read-only systemData fields changes the device's stored systemData.";
    PatchAnswerStale = "patch.answer_stale", Rule,
        "PATCH answers the updated registration [doc].",
        "PATCH stores the change but answers the registration as it was before.";
    IsPrimaryNotStored = "patch.is_primary_not_stored", Rule,
        "PATCH isPrimary is stored and read back by GET [doc].",
        "PATCH answers the new isPrimary but does not store it.";
    RegistrationEnabledNotStored = "patch.registration_enabled_not_stored", Rule,
        "PATCH systemData.registrationEnabled is stored and read back by GET [doc].",
        "PATCH answers the new value but does not store it.";
    AdditionalDataNotStored = "patch.additional_data_not_stored", Rule,
        "PATCH additionalData is stored and read back by GET [doc].",
        "PATCH answers the new attributes but does not store them.";
    IdentityNotRequired = "personalize.identity_not_required", Rule,
        "A personalize body must carry an identity [doc].",
        "A body without identity personalizes the device to a new anonymous person.";
    PersonalizeAcceptsAny = "personalize.accepts_any_identity", Rule,
        "A personalize body follows its schema: identity fields and person attributes of the documented types, patterns, lengths, formats and values [doc][spec].",
        "The personalize body is not validated: any identity value (phoneNumber {}, \"\" or null, a malformed email) and any attributes (an impossible birthday, another gender) are accepted, unusable values dropped.";
    NullExternalIdStored = "personalize.null_external_id_stored", Rule,
        "An externalId of \"null\", \"Null\" or \"NULL\" means JSON null [doc].",
        "An externalId \"NULL\" (or \"null\", \"Null\") is stored as that string.";
    ForceTrueIgnored = "personalize.force_true_ignored", Rule,
        "forceDepersonalize=true moves a device bound to another person [doc].",
        "forceDepersonalize=true is ignored: the move is refused with PERSONALIZATION_IMPOSSIBLE.";
    ForceFalseIgnored = "personalize.force_false_ignored", Rule,
        "Without forceDepersonalize, personalizing a device bound to another person is an error [doc].",
        "A device bound to another person is moved without forceDepersonalize.";
    KeepAsLeadIgnored = "personalize.keep_as_lead_ignored", Rule,
        "keepAsLead=true keeps a LEAD a LEAD [spec].",
        "keepAsLead=true is ignored: the person is promoted to CUSTOMER.";
    ReturnPushIgnored = "personalize.return_push_ignored", Rule,
        "returnPush=true lists the person's devices under contactInformation.push [spec].",
        "returnPush=true is ignored: no devices are listed.";
    SetPrimaryIgnored = "personalize.set_primary_ignored", Rule,
        "setDeviceAsPrimary=true makes the device its person's primary device [spec].",
        "setDeviceAsPrimary=true is ignored.";
    SecondPrimary = "personalize.second_primary", Rule,
        "A person has at most one primary device [doc].",
        "Making a device primary leaves the person's previous primary device primary.";
    PrimaryClearsUnrelated = "personalize.set_primary_clears_unrelated", Rule,
        "setDeviceAsPrimary=true changes the primary flag of that person's devices only [spec].",
        "setDeviceAsPrimary=true also clears the primary flag of one unrelated device (the first primary device of another person, or of none).";
    KeepAsLeadIgnoredAfterDepersonalize = "personalize.keep_as_lead_ignored_after_depersonalize", Rule,
        "keepAsLead=true keeps a LEAD a LEAD, whatever the device's history [spec].",
        "keepAsLead=true is ignored on a device that was ever depersonalized: the person is promoted to CUSTOMER.";
    KeepAsLeadIgnoredOnMatch = "personalize.keep_as_lead_ignored_on_match", Rule,
        "keepAsLead=true keeps a LEAD a LEAD, also when the identity finds an existing person [spec].",
        "keepAsLead=true is honoured when a person is created and ignored when the identity finds an existing LEAD: it is promoted to CUSTOMER.";
    NoMerge = "personalize.no_merge", Rule,
        "Phone, email and externalId each identify one person; the same phone on two devices is one person [doc].",
        "No identity is ever matched: every personalize creates a new person.";
    AttributesIgnored = "personalize.attributes_ignored", Rule,
        "The attributes of a personalize body are applied to the person [doc].",
        "The attributes of a personalize body are ignored.";
    AnswersOtherPerson = "personalize.answers_other_person", Edge,
        "Personalize answers the person the identity found or created [doc].",
        "The answer carries another person's externalId, phones and emails.";
    AnswersEmptyPerson = "personalize.answers_empty", Edge,
        "Personalize answers the person [doc].",
        "Personalize answers {}.";
    DepersonalizeNoEffect = "depersonalize.no_effect", Rule,
        "Depersonalize detaches the device from its person [doc].",
        "Depersonalize answers 200 and changes nothing.";
    DepersonalizeDeletes = "depersonalize.deletes_registration", Rule,
        "Depersonalize keeps the registration; only the person binding goes [doc].",
        "The registration is gone afterwards (400/48013).";
    DepersonalizeBody = "depersonalize.non_empty_body", Edge,
        "Depersonalize answers 200 with an empty body [spec].",
        "Depersonalize answers 200 with a JSON body.";
}

impl Defect {
    /// Every defect, in catalogue order.
    pub fn all() -> impl Iterator<Item = Defect> {
        DEFECTS.iter().map(|d| d.defect)
    }

    /// Its catalogue entry.
    pub fn info(self) -> &'static DefectInfo {
        // The catalogue is generated from the enum, in the same order.
        &DEFECTS[self as usize]
    }

    /// Its stable name.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The defect with this name.
    pub fn from_name(name: &str) -> Option<Defect> {
        DEFECTS.iter().find(|d| d.name == name).map(|d| d.defect)
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of planted defects; empty by default. Cheap to copy and to ask.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Defects(u64);

impl Defects {
    /// No defect: the simulator as documented.
    pub const fn none() -> Defects {
        Defects(0)
    }

    /// Exactly these defects.
    pub fn of(defects: &[Defect]) -> Defects {
        defects.iter().fold(Defects::none(), |set, &d| set.with(d))
    }

    /// This set plus `defect`.
    #[must_use]
    pub fn with(self, defect: Defect) -> Defects {
        Defects(self.0 | defect.bit())
    }

    /// Whether `defect` is planted: the named point a rule or the edge consults.
    pub fn has(self, defect: Defect) -> bool {
        self.0 & defect.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any edge defect is planted (the edge's fast path).
    pub(crate) fn any_edge(self) -> bool {
        self.iter().any(|d| d.info().layer == Layer::Edge)
    }

    /// The planted defects, in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Defect> {
        Defect::all().filter(move |d| self.has(*d))
    }
}

impl fmt::Debug for Defects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(Defect::name))
            .finish()
    }
}

/// `--defect` names that are in no catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown defect {name:?}; known defects: {}", known())]
pub struct UnknownDefect {
    pub name: String,
}

fn known() -> String {
    DEFECTS
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::str::FromStr for Defect {
    type Err = UnknownDefect;

    fn from_str(name: &str) -> Result<Defect, UnknownDefect> {
        Defect::from_name(name).ok_or_else(|| UnknownDefect {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_in_enum_order_with_unique_names() {
        assert!(DEFECTS.len() <= 64, "Defects is a u64 bit set");
        for (i, d) in DEFECTS.iter().enumerate() {
            assert_eq!(d.defect as usize, i, "{}", d.name);
            assert_eq!(Defect::from_name(d.name), Some(d.defect));
            assert!(DEFECTS[..i].iter().all(|o| o.name != d.name));
            assert!(d.name.contains('.') && !d.breaks.is_empty() && !d.instead.is_empty());
        }
    }

    #[test]
    fn sets_hold_exactly_what_was_planted() {
        let set = Defects::of(&[Defect::NoMerge, Defect::DepersonalizeBody]);
        assert!(set.has(Defect::NoMerge) && !set.has(Defect::AuthNotChecked));
        assert!(set.any_edge());
        assert!(!Defects::of(&[Defect::NoMerge]).any_edge());
        assert_eq!(
            format!("{set:?}"),
            "{\"personalize.no_merge\", \"depersonalize.non_empty_body\"}"
        );
        assert!(Defects::none().is_empty());
        let err = "nope".parse::<Defect>().unwrap_err();
        assert!(err.to_string().contains("auth.not_checked"), "{err}");
    }
}
