//! The simulator's state and the documented rules, as plain synchronous operations.
//!
//! Applications, registrations, persons and the indexes phone → person, email → person,
//! externalId → person, person → devices. Every operation runs under one lock held by the caller
//! (`server`), so the rules hold atomically: a device belongs to at most one person, a person has
//! at most one primary device, a phone number, email or externalId belongs to at most one person,
//! registration IDs are unique. [`State::invariants`] checks all of them over the whole state.
//!
//! This module knows nothing of HTTP, JSON bodies or faults, and never panics on input: indexes
//! it follows are its own, and a broken one is reported by `invariants`, not unwrapped.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::defects::{Defect, Defects};
use super::seed::SystemProfile;

/// One application as the state knows it.
#[derive(Debug, Clone)]
pub(crate) struct AppEntry {
    pub app_code: String,
    pub application_id: Arc<str>,
}

/// Custom attributes (a registration's additionalData, a person's customAttributes).
pub(crate) type Attrs = BTreeMap<Box<str>, AttrValue>;

/// A custom attribute value: the doc's string (dates are strings), number or boolean.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttrValue {
    Str(Box<str>),
    Num(serde_json::Number),
    Bool(bool),
}

/// A push registration; kept small, since a million of them are seeded.
#[derive(Debug)]
pub(crate) struct Registration {
    pub id: Arc<str>,
    /// Index into the applications.
    pub app: u16,
    /// Index into the system-data profiles.
    pub profile: u32,
    pub is_primary: bool,
    pub registration_enabled: bool,
    pub person: Option<u32>,
    pub additional: Option<Box<Attrs>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum Gender {
    Male,
    Female,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum PersonType {
    Lead,
    Customer,
}

/// A person, with its identities and its devices (registration indexes).
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub external_id: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub birthday: Option<String>,
    pub gender: Option<Gender>,
    pub tags: Option<Vec<String>>,
    pub custom: Attrs,
    pub kind: PersonType,
    pub devices: Vec<u32>,
}

impl Person {
    fn new_lead() -> Person {
        Person {
            external_id: None,
            phones: Vec::new(),
            emails: Vec::new(),
            first_name: None,
            last_name: None,
            middle_name: None,
            birthday: None,
            gender: None,
            tags: None,
            custom: Attrs::new(),
            kind: PersonType::Lead,
            devices: Vec::new(),
        }
    }
}

/// The writable part of a registration, as a PATCH body gives it.
#[derive(Debug, Default)]
pub(crate) struct PatchInput {
    pub is_primary: Option<bool>,
    pub registration_enabled: Option<bool>,
    pub additional: Option<Attrs>,
    /// The body names read-only systemData fields (ignored, unless the
    /// `patch.read_only_written` defect is planted).
    pub read_only_system_data: bool,
    /// Attribute names sent as `null`: deleted (choice `patch.additional_data_merged`).
    pub removed: Vec<Box<str>>,
}

/// The attribute names a PATCH `additionalData` sends as `null`.
pub(crate) fn null_keys(additional: Option<&serde_json::Value>) -> Vec<Box<str>> {
    additional
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k.as_str().into())
                .collect()
        })
        .unwrap_or_default()
}

/// Deletes `removed` from `attrs`; attributes left empty by a deletion become none at all.
fn remove_attrs(attrs: &mut Option<impl std::ops::DerefMut<Target = Attrs>>, removed: &[Box<str>]) {
    if removed.is_empty() {
        return;
    }
    if let Some(map) = attrs {
        for key in removed {
            map.remove(key);
        }
        if map.is_empty() {
            *attrs = None;
        }
    }
}

/// The identity of a personalize body, `"null"` externalIds already turned into `None`.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// The attributes of a personalize body.
#[derive(Debug, Default)]
pub(crate) struct PersonAttributes {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub birthday: Option<String>,
    pub gender: Option<Gender>,
    pub tags: Option<Vec<String>>,
    pub custom: Option<Attrs>,
}

/// The query flags of personalize.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PersonalizeFlags {
    pub force_depersonalize: bool,
    pub keep_as_lead: bool,
    pub return_push: bool,
    pub set_device_as_primary: bool,
}

/// Why an operation was refused; `server` maps each to its documented answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpError {
    /// Unknown registration, or one of another application (48013).
    RegistrationNotFound,
    /// No usable identifier in the identity.
    IdentityInvalid,
    /// The email breaks the schema's email rule (found by `server`'s body validation).
    EmailInvalid,
    /// The identifiers match several people.
    Ambiguous,
    /// The device belongs to another person and forceDepersonalize is not set.
    Impossible,
    /// The person already has another externalId.
    MergeInterrupted,
    /// More custom attributes than one registration or person may hold
    /// (choice `limits.custom_attribute_count`).
    TooManyAttributes { limit: usize },
}

/// Most custom attributes one registration (or one person) holds (choice
/// `limits.custom_attribute_count`).
pub const MAX_CUSTOM_ATTRIBUTES: usize = 100;

/// Defects under which a PATCH answers what it was sent without storing all of it.
const PATCH_NOT_STORED: [Defect; 3] = [
    Defect::IsPrimaryNotStored,
    Defect::RegistrationEnabledNotStored,
    Defect::AdditionalDataNotStored,
];

/// A registration copied out of the state, to be serialized after the lock is released.
#[derive(Debug, Clone)]
/// Applications and profiles are referred to by index: they are immutable and shared, so no
/// reference count is touched on the hot path.
pub(crate) struct RegistrationView {
    pub id: Arc<str>,
    pub app: u16,
    pub is_primary: bool,
    pub registration_enabled: bool,
    pub profile: u32,
    pub additional: Option<Attrs>,
}

/// A person copied out of the state, with its devices when `returnPush` asked for them.
#[derive(Debug, Clone)]
pub(crate) struct PersonView {
    pub person: Person,
    pub push: Option<Vec<RegistrationView>>,
}

/// One broken rule found by [`State::invariants`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantViolation {
    /// Which rule, e.g. `person.one_primary_device`.
    pub rule: &'static str,
    /// What was found.
    pub detail: String,
}

/// Everything the simulator stores.
#[derive(Debug)]
pub(crate) struct State {
    apps: Arc<[AppEntry]>,
    profiles: Arc<[SystemProfile]>,
    registrations: Vec<Registration>,
    by_id: HashMap<Arc<str>, u32>,
    persons: Vec<Person>,
    by_phone: HashMap<String, u32>,
    by_email: HashMap<String, u32>,
    by_external_id: HashMap<String, u32>,
    /// Planted defects the rules consult (none by default).
    defects: Defects,
}

impl State {
    pub fn new(
        apps: Arc<[AppEntry]>,
        profiles: Arc<[SystemProfile]>,
        registrations: Vec<Registration>,
        by_id: HashMap<Arc<str>, u32>,
    ) -> State {
        State {
            apps,
            profiles,
            registrations,
            by_id,
            persons: Vec::new(),
            by_phone: HashMap::new(),
            by_email: HashMap::new(),
            by_external_id: HashMap::new(),
            defects: Defects::none(),
        }
    }

    /// Plants `defects` in the rules (see `mock::defects`).
    pub fn plant(&mut self, defects: Defects) {
        self.defects = defects;
    }

    /// Number of registrations.
    pub fn len(&self) -> usize {
        self.registrations.len()
    }

    /// A page of `(registration ID, application index)`, in creation order, and the total.
    pub fn list(&self, offset: usize, limit: usize) -> (usize, Vec<(Arc<str>, u16)>) {
        let page = self
            .registrations
            .iter()
            .skip(offset)
            .take(limit)
            .map(|r| (Arc::clone(&r.id), r.app))
            .collect();
        (self.registrations.len(), page)
    }

    fn lookup(&self, app: u16, id: &str) -> Result<u32, OpError> {
        match self.by_id.get(id) {
            Some(&index)
                if self.registrations.get(index as usize).is_some_and(|r| {
                    r.app == app || self.defects.has(Defect::OtherApplicationVisible)
                }) =>
            {
                Ok(index)
            }
            _ => Err(OpError::RegistrationNotFound),
        }
    }

    fn view(&self, index: u32) -> Option<RegistrationView> {
        let r = self.registrations.get(index as usize)?;
        // Indexes are checked here once, so rendering can trust them.
        self.apps.get(usize::from(r.app))?;
        self.profiles.get(r.profile as usize)?;
        Some(RegistrationView {
            id: Arc::clone(&r.id),
            app: r.app,
            is_primary: r.is_primary,
            registration_enabled: r.registration_enabled,
            profile: r.profile,
            additional: r.additional.as_deref().cloned(),
        })
    }

    /// GET: the registration of `app` with `id`.
    pub fn get(&self, app: u16, id: &str) -> Result<RegistrationView, OpError> {
        let index = self.lookup(app, id)?;
        self.view(index).ok_or(OpError::RegistrationNotFound)
    }

    /// PATCH: applies the writable fields (choices `patch.read_only_fields_ignored`,
    /// `patch.additional_data_merged`); with `store == false` answers as if applied but keeps
    /// the state unchanged (the drop-writes fault).
    pub fn patch(
        &mut self,
        app: u16,
        id: &str,
        input: PatchInput,
        store: bool,
    ) -> Result<RegistrationView, OpError> {
        let index = self.lookup(app, id)?;
        self.check_attribute_count(index, input.additional.as_ref(), &input.removed)?;
        // What a write that is not (fully) stored answers: the drop-writes fault and the planted
        // defects of PATCH_NOT_STORED and patch.answer_stale.
        let mut answers_unstored = None;
        if !store || !self.defects.is_empty() {
            let mut view = self.view(index).ok_or(OpError::RegistrationNotFound)?;
            let before = view.clone();
            if let Some(p) = input.is_primary {
                view.is_primary = p;
            }
            if let Some(e) = input.registration_enabled {
                view.registration_enabled = e;
            }
            if let Some(new) = &input.additional {
                view.additional
                    .get_or_insert_with(Attrs::new)
                    .extend(new.clone());
            }
            let mut additional = view.additional.take().map(Box::new);
            remove_attrs(&mut additional, &input.removed);
            view.additional = additional.map(|b| *b);
            if !store {
                return Ok(view);
            }
            if self.defects.has(Defect::PatchAnswerStale) {
                answers_unstored = Some(before);
            } else if PATCH_NOT_STORED.iter().any(|&d| self.defects.has(d)) {
                answers_unstored = Some(view);
            }
        }
        let input = self.withhold(input);
        let rewritten_profile = (input.read_only_system_data
            && self.defects.has(Defect::ReadOnlyWritten))
        .then(|| self.another_profile(index))
        .flatten();
        let Some(registration) = self.registrations.get_mut(index as usize) else {
            return Err(OpError::RegistrationNotFound);
        };
        if let Some(profile) = rewritten_profile {
            registration.profile = profile;
        }
        if let Some(e) = input.registration_enabled {
            registration.registration_enabled = e;
        }
        if let Some(new) = input.additional {
            registration
                .additional
                .get_or_insert_with(Default::default)
                .extend(new);
        }
        remove_attrs(&mut registration.additional, &input.removed);
        if let Some(primary) = input.is_primary {
            registration.is_primary = primary;
            if primary && let Some(owner) = registration.person {
                self.make_only_primary(owner, index);
            }
        }
        match answers_unstored {
            Some(view) => Ok(view),
            None => self.view(index).ok_or(OpError::RegistrationNotFound),
        }
    }

    /// For the `patch.read_only_written` defect: a system-data profile whose osVersion differs
    /// from the registration's, so that its read-only systemData visibly changes.
    fn another_profile(&self, index: u32) -> Option<u32> {
        let current = self.registrations.get(index as usize)?.profile as usize;
        let os_version = &self.profiles.get(current)?.os_version;
        let n = self.profiles.len();
        (1..n)
            .map(|step| (current + step) % n)
            .find(|&p| {
                self.profiles
                    .get(p)
                    .is_some_and(|o| &o.os_version != os_version)
            })
            .map(|p| p as u32)
    }

    /// The PATCH input without the fields a planted "not stored" defect drops.
    fn withhold(&self, mut input: PatchInput) -> PatchInput {
        if self.defects.has(Defect::IsPrimaryNotStored) {
            input.is_primary = None;
        }
        if self.defects.has(Defect::RegistrationEnabledNotStored) {
            input.registration_enabled = None;
        }
        if self.defects.has(Defect::AdditionalDataNotStored) {
            input.additional = None;
            input.removed.clear();
        }
        input
    }

    /// Refuses a PATCH whose additionalData would leave the registration with more than
    /// [`MAX_CUSTOM_ATTRIBUTES`] (choice `limits.custom_attribute_count`).
    fn check_attribute_count(
        &self,
        index: u32,
        new: Option<&Attrs>,
        removed: &[Box<str>],
    ) -> Result<(), OpError> {
        let Some(new) = new else { return Ok(()) };
        let existing = self
            .registrations
            .get(index as usize)
            .and_then(|r| r.additional.as_deref());
        // Attributes the same PATCH deletes (sent as null) do not count.
        match existing {
            Some(old) if !removed.is_empty() => {
                let mut kept = old.clone();
                for key in removed {
                    kept.remove(key);
                }
                check_count(Some(&kept), new)
            }
            _ => check_count(existing, new),
        }
    }

    /// Clears `isPrimary` on every device of `person` except `device`.
    fn make_only_primary(&mut self, person: u32, device: u32) {
        let Some(p) = self.persons.get(person as usize) else {
            return;
        };
        let keep_others = self.defects.has(Defect::SecondPrimary);
        for &d in &p.devices {
            if let Some(r) = self.registrations.get_mut(d as usize) {
                r.is_primary = d == device || (keep_others && r.is_primary);
            }
        }
    }

    /// Personalize: finds or creates the person by identity and attaches the device.
    pub fn personalize(
        &mut self,
        app: u16,
        id: &str,
        identity: Identity,
        attributes: PersonAttributes,
        flags: PersonalizeFlags,
        store: bool,
    ) -> Result<PersonView, OpError> {
        let index = self.lookup(app, id)?;
        let flags = self.flags_as_heard(flags);
        if identity.external_id.is_none()
            && identity.phone.is_none()
            && identity.email.is_none()
            && !self.defects.has(Defect::IdentityNotRequired)
        {
            return Err(OpError::IdentityInvalid);
        }
        if identity.external_id.as_deref() == Some("") || identity.phone.as_deref() == Some("") {
            return Err(OpError::IdentityInvalid);
        }
        // An email is checked once, by the schema's pattern, before the state is reached
        // (`server` answers EMAIL_INVALID for it): one rule for the schema and the simulator.
        let mut matched: Option<u32> = None;
        let mut hits = [
            identity.phone.as_ref().and_then(|k| self.by_phone.get(k)),
            identity.email.as_ref().and_then(|k| self.by_email.get(k)),
            identity
                .external_id
                .as_ref()
                .and_then(|k| self.by_external_id.get(k)),
        ];
        if self.defects.has(Defect::NoMerge) {
            hits = [None; 3];
        }
        for &hit in hits.into_iter().flatten() {
            match matched {
                Some(m) if m != hit => return Err(OpError::Ambiguous),
                _ => matched = Some(hit),
            }
        }
        let current = self
            .registrations
            .get(index as usize)
            .ok_or(OpError::RegistrationNotFound)?
            .person;
        // Choice `personalize.new_identity_is_another_person`.
        if current.is_some() && current != matched && !flags.force_depersonalize {
            return Err(OpError::Impossible);
        }
        let mut person = match matched {
            Some(m) => self
                .persons
                .get(m as usize)
                .cloned()
                .ok_or(OpError::RegistrationNotFound)?,
            None => Person::new_lead(),
        };
        // Choice `personalize.identity_added_to_match`.
        if let Some(ext) = &identity.external_id {
            match &person.external_id {
                Some(existing) if existing != ext => return Err(OpError::MergeInterrupted),
                _ => person.external_id = Some(ext.clone()),
            }
        }
        if let Some(phone) = &identity.phone
            && !person.phones.contains(phone)
        {
            person.phones.push(phone.clone());
        }
        if let Some(email) = &identity.email
            && !person.emails.contains(email)
        {
            person.emails.push(email.clone());
        }
        if !self.defects.has(Defect::AttributesIgnored) {
            apply_attributes(&mut person, attributes);
        }
        check_count(None, &person.custom)?;
        // Choice `personalize.type_lead_promoted`.
        if person.kind == PersonType::Lead && !flags.keep_as_lead {
            person.kind = PersonType::Customer;
        }
        let moving = current != matched || matched.is_none();

        if !store {
            // The drop-writes fault: answer as if stored.
            if moving {
                person.devices.push(index);
            }
            let push = flags.return_push.then(|| {
                self.push_views(app, &person.devices, |d, stored| {
                    if d == index {
                        if moving {
                            flags.set_device_as_primary
                        } else {
                            stored || flags.set_device_as_primary
                        }
                    } else {
                        stored && !flags.set_device_as_primary
                    }
                })
            });
            person.devices.clear();
            return Ok(PersonView { person, push });
        }

        let target = match matched {
            Some(m) => {
                if let Some(slot) = self.persons.get_mut(m as usize) {
                    *slot = person;
                }
                m
            }
            None => {
                self.persons.push(person);
                (self.persons.len() - 1) as u32
            }
        };
        if let Some(phone) = identity.phone {
            self.by_phone.insert(phone, target);
        }
        if let Some(email) = identity.email {
            self.by_email.insert(email, target);
        }
        if let Some(ext) = identity.external_id {
            self.by_external_id.insert(ext, target);
        }
        if moving {
            if let Some(old) = current {
                self.detach(old, index);
            }
            if let Some(p) = self.persons.get_mut(target as usize) {
                p.devices.push(index);
            }
            if let Some(r) = self.registrations.get_mut(index as usize) {
                r.person = Some(target);
                // Choice `primary.unpersonalized_device`.
                r.is_primary = false;
            }
        }
        if flags.set_device_as_primary {
            self.make_only_primary(target, index);
        }
        let person = self
            .persons
            .get(target as usize)
            .cloned()
            .ok_or(OpError::RegistrationNotFound)?;
        let push = flags
            .return_push
            .then(|| self.push_views(app, &person.devices, |_, stored| stored));
        Ok(PersonView {
            person: Person {
                devices: Vec::new(),
                ..person
            },
            push,
        })
    }

    /// The flags as the rules hear them: the planted defects that ignore a flag turn it off
    /// (or, for `personalize.force_false_ignored`, on).
    fn flags_as_heard(&self, mut flags: PersonalizeFlags) -> PersonalizeFlags {
        let d = self.defects;
        if d.has(Defect::ForceTrueIgnored) {
            flags.force_depersonalize = false;
        }
        if d.has(Defect::ForceFalseIgnored) {
            flags.force_depersonalize = true;
        }
        flags.keep_as_lead &= !d.has(Defect::KeepAsLeadIgnored);
        flags.return_push &= !d.has(Defect::ReturnPushIgnored);
        flags.set_device_as_primary &= !d.has(Defect::SetPrimaryIgnored);
        flags
    }

    /// Views of `devices` in application `app`, with `primary(device, stored isPrimary)`.
    fn push_views(
        &self,
        app: u16,
        devices: &[u32],
        primary: impl Fn(u32, bool) -> bool,
    ) -> Vec<RegistrationView> {
        devices
            .iter()
            .filter(|&&d| {
                self.registrations
                    .get(d as usize)
                    .is_some_and(|r| r.app == app)
            })
            .filter_map(|&d| {
                let mut v = self.view(d)?;
                v.is_primary = primary(d, v.is_primary);
                Some(v)
            })
            .collect()
    }

    /// Removes `device` from `person` and clears its link and primary flag
    /// (choice `primary.cleared_on_detach`).
    fn detach(&mut self, person: u32, device: u32) {
        if let Some(p) = self.persons.get_mut(person as usize) {
            p.devices.retain(|&d| d != device);
        }
        if let Some(r) = self.registrations.get_mut(device as usize) {
            r.person = None;
            r.is_primary = false;
        }
    }

    /// Depersonalize: detaches the device from its person, if any
    /// (choices `depersonalize.person_kept`, `depersonalize.unpersonalized_ok`).
    pub fn depersonalize(&mut self, app: u16, id: &str, store: bool) -> Result<(), OpError> {
        let index = self.lookup(app, id)?;
        if !store || self.defects.has(Defect::DepersonalizeNoEffect) {
            return Ok(());
        }
        if let Some(owner) = self
            .registrations
            .get(index as usize)
            .and_then(|r| r.person)
        {
            self.detach(owner, index);
        }
        if self.defects.has(Defect::DepersonalizeDeletes) {
            self.by_id.remove(id);
        }
        Ok(())
    }

    /// Checks every documented rule over the whole state; empty when all hold.
    pub fn invariants(&self) -> Vec<InvariantViolation> {
        let mut out = Vec::new();
        let mut v = |rule: &'static str, detail: String| {
            out.push(InvariantViolation { rule, detail });
        };
        if self.by_id.len() != self.registrations.len() {
            v(
                "registration.unique_id",
                format!(
                    "{} registrations but {} distinct IDs",
                    self.registrations.len(),
                    self.by_id.len()
                ),
            );
        }
        for (i, r) in self.registrations.iter().enumerate() {
            if self.by_id.get(&*r.id) != Some(&(i as u32)) {
                v(
                    "registration.unique_id",
                    format!("registration {} is not indexed under its ID", r.id),
                );
            }
            if let Some(p) = r.person {
                let listed = self
                    .persons
                    .get(p as usize)
                    .is_some_and(|person| person.devices.contains(&(i as u32)));
                if !listed {
                    v(
                        "device.one_person",
                        format!(
                            "registration {} points at person #{p}, which does not list it",
                            r.id
                        ),
                    );
                }
            }
        }
        for (p, person) in self.persons.iter().enumerate() {
            let p = p as u32;
            let mut primaries = 0;
            for (k, &d) in person.devices.iter().enumerate() {
                let Some(r) = self.registrations.get(d as usize) else {
                    v(
                        "device.one_person",
                        format!("person #{p} lists missing device #{d}"),
                    );
                    continue;
                };
                if r.person != Some(p) {
                    v(
                        "device.one_person",
                        format!(
                            "person #{p} lists registration {}, which belongs to {:?}",
                            r.id, r.person
                        ),
                    );
                }
                if person.devices[..k].contains(&d) {
                    v(
                        "device.one_person",
                        format!("person #{p} lists registration {} twice", r.id),
                    );
                }
                if r.is_primary {
                    primaries += 1;
                }
            }
            if primaries > 1 {
                v(
                    "person.one_primary_device",
                    format!("person #{p} has {primaries} primary devices"),
                );
            }
            for (rule, values, index) in [
                ("identity.unique_phone", &person.phones, &self.by_phone),
                ("identity.unique_email", &person.emails, &self.by_email),
            ] {
                for value in values {
                    if index.get(value) != Some(&p) {
                        v(
                            rule,
                            format!(
                                "person #{p}'s {value:?} is indexed under {:?}",
                                index.get(value)
                            ),
                        );
                    }
                }
            }
            if let Some(ext) = &person.external_id
                && self.by_external_id.get(ext) != Some(&p)
            {
                v(
                    "identity.unique_external_id",
                    format!(
                        "person #{p}'s externalId {ext:?} is indexed under {:?}",
                        self.by_external_id.get(ext)
                    ),
                );
            }
        }
        for (rule, index) in [
            ("identity.unique_phone", &self.by_phone),
            ("identity.unique_email", &self.by_email),
        ] {
            for (value, &p) in index {
                let holds = self.persons.get(p as usize).is_some_and(|person| {
                    let list = if rule == "identity.unique_phone" {
                        &person.phones
                    } else {
                        &person.emails
                    };
                    list.contains(value)
                });
                if !holds {
                    v(
                        rule,
                        format!("{value:?} is indexed under person #{p}, who does not have it"),
                    );
                }
            }
        }
        for (value, &p) in &self.by_external_id {
            if self
                .persons
                .get(p as usize)
                .is_none_or(|person| person.external_id.as_ref() != Some(value))
            {
                v(
                    "identity.unique_external_id",
                    format!(
                        "externalId {value:?} is indexed under person #{p}, who does not have it"
                    ),
                );
            }
        }
        out
    }
}

/// Refuses custom attributes that, merged into `existing`, would be more than
/// [`MAX_CUSTOM_ATTRIBUTES`] (choice `limits.custom_attribute_count`).
fn check_count(existing: Option<&Attrs>, new: &Attrs) -> Result<(), OpError> {
    let added = match existing {
        Some(old) => new.keys().filter(|k| !old.contains_key(*k)).count() + old.len(),
        None => new.len(),
    };
    if added > MAX_CUSTOM_ATTRIBUTES {
        return Err(OpError::TooManyAttributes {
            limit: MAX_CUSTOM_ATTRIBUTES,
        });
    }
    Ok(())
}

/// Applies personalize attributes (choice `personalize.attributes_replace_fields_merge_custom`).
fn apply_attributes(person: &mut Person, a: PersonAttributes) {
    let set = |slot: &mut Option<String>, value: Option<String>| {
        if value.is_some() {
            *slot = value;
        }
    };
    set(&mut person.first_name, a.first_name);
    set(&mut person.last_name, a.last_name);
    set(&mut person.middle_name, a.middle_name);
    set(&mut person.birthday, a.birthday);
    if a.gender.is_some() {
        person.gender = a.gender;
    }
    if a.tags.is_some() {
        person.tags = a.tags;
    }
    if let Some(custom) = a.custom {
        person.custom.extend(custom);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::seed::{profiles, seeded_state};

    fn state() -> (State, Vec<Arc<str>>) {
        let apps: Arc<[AppEntry]> = Arc::from(vec![AppEntry {
            app_code: "a".into(),
            application_id: Arc::from("A"),
        }]);
        let s = seeded_state(apps, profiles(1).unwrap(), 1, 4).unwrap();
        let ids = s.list(0, 4).1.into_iter().map(|(id, _)| id).collect();
        (s, ids)
    }

    fn phone(p: &str) -> Identity {
        Identity {
            phone: Some(p.into()),
            ..Identity::default()
        }
    }

    #[test]
    fn personalize_groups_by_phone_and_refuses_to_steal_devices() {
        let (mut s, ids) = state();
        let flags = PersonalizeFlags::default();
        s.personalize(0, &ids[0], phone("1"), Default::default(), flags, true)
            .unwrap();
        s.personalize(0, &ids[1], phone("1"), Default::default(), flags, true)
            .unwrap();
        assert_eq!(s.persons.len(), 1);
        assert_eq!(s.persons[0].devices.len(), 2);
        let err = s.personalize(0, &ids[0], phone("2"), Default::default(), flags, true);
        assert_eq!(err.unwrap_err(), OpError::Impossible);
        let force = PersonalizeFlags {
            force_depersonalize: true,
            set_device_as_primary: true,
            ..flags
        };
        s.personalize(0, &ids[0], phone("2"), Default::default(), force, true)
            .unwrap();
        assert_eq!(s.persons[0].devices.len(), 1);
        assert!(s.registrations[0].is_primary);
        s.personalize(0, &ids[2], phone("2"), Default::default(), flags, true)
            .unwrap();
        let ambiguous = Identity {
            phone: Some("1".into()),
            email: None,
            external_id: None,
        };
        s.by_email.insert("x@y.z".into(), 1);
        s.persons[1].emails.push("x@y.z".into());
        let err = s.personalize(
            0,
            &ids[3],
            Identity {
                email: Some("x@y.z".into()),
                ..ambiguous
            },
            Default::default(),
            flags,
            true,
        );
        assert_eq!(err.unwrap_err(), OpError::Ambiguous);
        assert!(s.invariants().is_empty(), "{:?}", s.invariants());
    }

    #[test]
    fn invariants_see_a_broken_index() {
        let (mut s, ids) = state();
        s.personalize(
            0,
            &ids[0],
            phone("1"),
            Default::default(),
            PersonalizeFlags::default(),
            true,
        )
        .unwrap();
        s.by_phone.insert("1".into(), 7);
        assert!(!s.invariants().is_empty());
    }
}
