//! The simulator's state and the documented rules, as plain synchronous operations.
//!
//! Applications, registrations, persons and the indexes phone → person, email → person,
//! externalId → person, person → devices. Every operation runs under one lock held by the caller
//! (`rules`), so the rules hold atomically: a device belongs to at most one person, a person has
//! at most one primary device, a phone number, email or externalId belongs to at most one person,
//! registration IDs are unique. [`State::invariants`] checks all of them over the whole state.
//!
//! Every write goes through a few primitives (`registration_mut`, `person_mut`, `push_person`,
//! `index_identity`, `forget_id`) that can keep an undo journal, so [`State::unkept`] runs any
//! operation and rolls it back: the answer of a write that is not stored, computed by the same
//! code as one that is. Who asks for that (the drop-writes fault, a planted "not stored" defect)
//! is the caller's business.
//!
//! This module knows nothing of HTTP, JSON bodies or faults, and never panics on input: indexes
//! it follows are its own, and a broken one is reported by `invariants`, not unwrapped. The
//! planted defects that change a data rule itself (which registrations are found, whether
//! identities merge, one primary device, read-only systemData, a registration removed) are
//! consulted here at named points; those about answering, storing or hearing a request are the
//! caller's (`rules`).

mod invariants;
mod journal;
mod write;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::catalog::{AppEntry, SystemProfile};
use super::defects::{Defect, Defects};
use journal::Journal;

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
#[derive(Debug, Clone)]
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

/// A person's own fields, as personalize's `attributes` set them (each replaced when given).
#[derive(Debug, Clone, Default)]
pub(crate) struct PersonFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub birthday: Option<String>,
    pub gender: Option<Gender>,
    pub tags: Option<Vec<String>>,
}

/// A person, with its identities and its devices (registration indexes).
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub external_id: Option<String>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    pub fields: PersonFields,
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
            fields: PersonFields::default(),
            custom: Attrs::new(),
            kind: PersonType::Lead,
            devices: Vec::new(),
        }
    }
}

/// The writable part of a registration, as a PATCH body gives it.
#[derive(Debug, Default, Clone)]
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
    pub fields: PersonFields,
    pub custom: Option<Attrs>,
}

/// The query flags of personalize, all off by default.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PersonalizeFlags {
    pub force_depersonalize: bool,
    pub keep_as_lead: bool,
    pub return_push: bool,
    pub set_device_as_primary: bool,
}

/// Why an operation was refused; `rules` maps each to its documented answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpError {
    /// Unknown registration, or one of another application (48013).
    RegistrationNotFound,
    /// No usable identifier in the identity.
    IdentityInvalid,
    /// The email breaks the schema's email rule (found by the body validation of `rules`).
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

/// A registration copied out of the state, to be serialized after the lock is released.
/// Applications and profiles are referred to by index: they are immutable and shared, so no
/// reference count is touched on the hot path.
#[derive(Debug, Clone)]
pub struct RegistrationView {
    pub(crate) id: Arc<str>,
    pub(crate) app: u16,
    pub(crate) is_primary: bool,
    pub(crate) registration_enabled: bool,
    pub(crate) profile: u32,
    pub(crate) additional: Option<Attrs>,
}

/// A person copied out of the state, with its devices when `returnPush` asked for them.
#[derive(Debug, Clone)]
pub struct PersonView {
    pub(crate) person: Person,
    pub(crate) push: Option<Vec<RegistrationView>>,
}

/// One broken rule found by [`State::invariants`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantViolation {
    /// Which rule, e.g. `person.one_primary_device`.
    pub rule: &'static str,
    /// What was found.
    pub detail: String,
}

/// Which identity index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentityKind {
    Phone,
    Email,
    ExternalId,
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
    /// Planted data-rule defects consulted here (none by default).
    defects: Defects,
    /// Devices ever depersonalized, kept only for the
    /// `personalize.keep_as_lead_ignored_after_depersonalize` defect (not journaled: that
    /// defect is not meant to meet the drop-writes fault).
    depersonalized: HashSet<u32>,
    /// While [`State::unkept`] runs: how to undo what it wrote.
    journal: Option<Journal>,
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
            depersonalized: HashSet::new(),
            journal: None,
        }
    }

    /// Plants `defects` in the data rules (see `mock::defects`).
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

    /// Runs `write` and undoes everything it changed: its answer, as if stored, and the state
    /// as before. Nested calls join the outer one.
    pub fn unkept<T>(&mut self, write: impl FnOnce(&mut State) -> T) -> T {
        if self.journal.is_some() {
            return write(self);
        }
        self.journal = Some(Journal::default());
        let answer = write(self);
        if let Some(journal) = self.journal.take() {
            journal.roll_back(self);
        }
        answer
    }

    // -- The write primitives: every change of the state goes through one of these.

    /// A registration to change.
    fn registration_mut(&mut self, index: u32) -> Option<&mut Registration> {
        let r = self.registrations.get_mut(index as usize)?;
        if let Some(journal) = &mut self.journal {
            journal.registration(index, r);
        }
        Some(r)
    }

    /// A person to change.
    fn person_mut(&mut self, person: u32) -> Option<&mut Person> {
        let p = self.persons.get_mut(person as usize)?;
        if let Some(journal) = &mut self.journal {
            journal.person(person, p);
        }
        Some(p)
    }

    /// Adds a person; its index.
    fn push_person(&mut self, person: Person) -> u32 {
        if let Some(journal) = &mut self.journal {
            journal.persons_len(self.persons.len());
        }
        self.persons.push(person);
        (self.persons.len() - 1) as u32
    }

    /// Indexes `value` of `kind` under `person`.
    fn index_identity(&mut self, kind: IdentityKind, value: String, person: u32) {
        let index = self.identity_index_mut(kind);
        let old = index.insert(value.clone(), person);
        if let Some(journal) = &mut self.journal {
            journal.identity(kind, value, old);
        }
    }

    fn identity_index_mut(&mut self, kind: IdentityKind) -> &mut HashMap<String, u32> {
        match kind {
            IdentityKind::Phone => &mut self.by_phone,
            IdentityKind::Email => &mut self.by_email,
            IdentityKind::ExternalId => &mut self.by_external_id,
        }
    }

    /// Removes the registration ID from the ID index (the registration stays listed).
    fn forget_id(&mut self, id: &str) {
        if let Some((key, old)) = self.by_id.remove_entry(id)
            && let Some(journal) = &mut self.journal
        {
            journal.id(key, old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::catalog::AppEntry;
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
        s.personalize(0, &ids[0], phone("1"), Default::default(), flags)
            .unwrap();
        s.personalize(0, &ids[1], phone("1"), Default::default(), flags)
            .unwrap();
        assert_eq!(s.persons.len(), 1);
        assert_eq!(s.persons[0].devices.len(), 2);
        let err = s.personalize(0, &ids[0], phone("2"), Default::default(), flags);
        assert_eq!(err.unwrap_err(), OpError::Impossible);
        let force = PersonalizeFlags {
            force_depersonalize: true,
            set_device_as_primary: true,
            ..flags
        };
        s.personalize(0, &ids[0], phone("2"), Default::default(), force)
            .unwrap();
        assert_eq!(s.persons[0].devices.len(), 1);
        assert!(s.registrations[0].is_primary);
        s.personalize(0, &ids[2], phone("2"), Default::default(), flags)
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
        )
        .unwrap();
        s.by_phone.insert("1".into(), 7);
        assert!(!s.invariants().is_empty());
    }

    #[test]
    fn unkept_writes_answer_as_stored_and_leave_no_trace() {
        let (mut s, ids) = state();
        let flags = PersonalizeFlags::default();
        s.personalize(0, &ids[0], phone("1"), Default::default(), flags)
            .unwrap();
        let before = format!("{:?}", (&s.registrations, &s.persons, &s.by_phone));
        let primary = PersonalizeFlags {
            force_depersonalize: true,
            return_push: true,
            set_device_as_primary: true,
            ..flags
        };
        let unkept = s
            .unkept(|s| s.personalize(0, &ids[0], phone("2"), Default::default(), primary))
            .unwrap();
        assert_eq!(
            format!("{:?}", (&s.registrations, &s.persons, &s.by_phone)),
            before
        );
        let kept = s
            .personalize(0, &ids[0], phone("2"), Default::default(), primary)
            .unwrap();
        assert_eq!(format!("{unkept:?}"), format!("{kept:?}"));
        s.unkept(|s| s.depersonalize(0, &ids[0])).unwrap();
        assert!(s.registrations[0].person.is_some());
        assert!(s.invariants().is_empty(), "{:?}", s.invariants());
    }
}
