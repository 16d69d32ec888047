//! The three writes of the API over the state: PATCH, personalize and depersonalize, with the
//! documented rules and the simulator's choices where the docs are silent (cited by id).
//!
//! Every change goes through the write primitives of [`State`], so each write can be run unkept.
//! This module must not know of faults, HTTP or JSON.

use super::Identity;
use super::{
    Attrs, Defect, IdentityKind, MAX_CUSTOM_ATTRIBUTES, OpError, PatchInput, Person,
    PersonAttributes, PersonType, PersonView, PersonalizeFlags, RegistrationView, State,
};

impl State {
    /// PATCH: applies the writable fields (choices `patch.read_only_fields_ignored`,
    /// `patch.additional_data_merged`).
    pub fn patch(
        &mut self,
        app: u16,
        id: &str,
        input: PatchInput,
    ) -> Result<RegistrationView, OpError> {
        let index = self.lookup(app, id)?;
        self.check_attribute_count(index, input.additional.as_ref(), &input.removed)?;
        let rewritten_profile = (input.read_only_system_data
            && self.defects.has(Defect::ReadOnlyWritten))
        .then(|| self.another_profile(index))
        .flatten();
        let registration = self
            .registration_mut(index)
            .ok_or(OpError::RegistrationNotFound)?;
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
        let mut owner = None;
        if let Some(primary) = input.is_primary {
            registration.is_primary = primary;
            owner = registration.person.filter(|_| primary);
        }
        if let Some(owner) = owner {
            self.make_only_primary(owner, index);
        }
        self.view(index).ok_or(OpError::RegistrationNotFound)
    }

    /// Personalize: finds or creates the person by identity and attaches the device.
    pub fn personalize(
        &mut self,
        app: u16,
        id: &str,
        identity: Identity,
        attributes: PersonAttributes,
        flags: PersonalizeFlags,
    ) -> Result<PersonView, OpError> {
        let index = self.lookup(app, id)?;
        self.check_identity(&identity)?;
        let matched = self.match_person(&identity)?;
        let current = self
            .registrations
            .get(index as usize)
            .ok_or(OpError::RegistrationNotFound)?
            .person;
        // Choice `personalize.new_identity_is_another_person`.
        if current.is_some() && current != matched && !flags.force_depersonalize {
            return Err(OpError::Impossible);
        }
        let mut flags = flags;
        if self
            .defects
            .has(Defect::KeepAsLeadIgnoredAfterDepersonalize)
            && self.depersonalized.contains(&index)
        {
            flags.keep_as_lead = false;
        }
        if self.defects.has(Defect::KeepAsLeadIgnoredOnMatch) && matched.is_some() {
            flags.keep_as_lead = false;
        }
        let person = self.merged_person(matched, &identity, attributes, flags)?;
        let target = self.store_person(matched, person, identity);
        if current != matched || matched.is_none() {
            self.attach(index, current, target);
        }
        if flags.set_device_as_primary {
            self.make_only_primary(target, index);
            if self.defects.has(Defect::PrimaryClearsUnrelated) {
                self.clear_unrelated_primary(target);
            }
        }
        self.person_view(app, target, flags.return_push)
    }

    /// Depersonalize: detaches the device from its person, if any
    /// (choices `depersonalize.person_kept`, `depersonalize.unpersonalized_ok`).
    pub fn depersonalize(&mut self, app: u16, id: &str) -> Result<(), OpError> {
        let index = self.lookup(app, id)?;
        if let Some(owner) = self
            .registrations
            .get(index as usize)
            .and_then(|r| r.person)
        {
            self.detach(owner, index);
        }
        if self
            .defects
            .has(Defect::KeepAsLeadIgnoredAfterDepersonalize)
        {
            self.depersonalized.insert(index);
        }
        if self.defects.has(Defect::DepersonalizeDeletes) {
            self.forget_id(id);
        }
        Ok(())
    }

    /// An identity with at least one non-empty identifier (or none at all under the
    /// `personalize.identity_not_required` defect). An email is checked once, by the schema's
    /// pattern, before the state is reached: one rule for the schema and the simulator.
    fn check_identity(&self, identity: &Identity) -> Result<(), OpError> {
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
        Ok(())
    }

    /// The one person the identity's phone, email and externalId point at, if any.
    fn match_person(&self, identity: &Identity) -> Result<Option<u32>, OpError> {
        if self.defects.has(Defect::NoMerge) {
            return Ok(None);
        }
        let hits = [
            identity.phone.as_ref().and_then(|k| self.by_phone.get(k)),
            identity.email.as_ref().and_then(|k| self.by_email.get(k)),
            identity
                .external_id
                .as_ref()
                .and_then(|k| self.by_external_id.get(k)),
        ];
        let mut matched: Option<u32> = None;
        for &hit in hits.into_iter().flatten() {
            match matched {
                Some(m) if m != hit => return Err(OpError::Ambiguous),
                _ => matched = Some(hit),
            }
        }
        Ok(matched)
    }

    /// The matched (or a new) person with the identity and attributes applied.
    fn merged_person(
        &self,
        matched: Option<u32>,
        identity: &Identity,
        attributes: PersonAttributes,
        flags: PersonalizeFlags,
    ) -> Result<Person, OpError> {
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
        apply_attributes(&mut person, attributes);
        check_count(None, &person.custom)?;
        // Choice `personalize.type_lead_promoted`.
        if person.kind == PersonType::Lead && !flags.keep_as_lead {
            person.kind = PersonType::Customer;
        }
        Ok(person)
    }

    /// Stores `person` over the matched one (or as a new one) and indexes its identity; its index.
    fn store_person(&mut self, matched: Option<u32>, person: Person, identity: Identity) -> u32 {
        let target = match matched {
            Some(m) => {
                if let Some(slot) = self.person_mut(m) {
                    *slot = person;
                }
                m
            }
            None => self.push_person(person),
        };
        for (kind, value) in [
            (IdentityKind::Phone, identity.phone),
            (IdentityKind::Email, identity.email),
            (IdentityKind::ExternalId, identity.external_id),
        ] {
            if let Some(value) = value {
                self.index_identity(kind, value, target);
            }
        }
        target
    }

    /// Moves device `index` from `current` (if any) to `target`; it is not primary there
    /// (choice `primary.unpersonalized_device`).
    fn attach(&mut self, index: u32, current: Option<u32>, target: u32) {
        if let Some(old) = current {
            self.detach(old, index);
        }
        if let Some(p) = self.person_mut(target) {
            p.devices.push(index);
        }
        if let Some(r) = self.registration_mut(index) {
            r.person = Some(target);
            r.is_primary = false;
        }
    }

    /// The person as personalize answers it, with its devices of `app` when `return_push`.
    fn person_view(&self, app: u16, target: u32, return_push: bool) -> Result<PersonView, OpError> {
        let person = self
            .persons
            .get(target as usize)
            .ok_or(OpError::RegistrationNotFound)?;
        // Choice `personalize.return_push_same_application`.
        let push = return_push.then(|| {
            person
                .devices
                .iter()
                .filter(|&&d| {
                    self.registrations
                        .get(d as usize)
                        .is_some_and(|r| r.app == app)
                })
                .filter_map(|&d| self.view(d))
                .collect()
        });
        Ok(PersonView {
            person: Person {
                devices: Vec::new(),
                ..person.clone()
            },
            push,
        })
    }

    /// Removes `device` from `person` and clears its link and primary flag
    /// (choice `primary.cleared_on_detach`).
    fn detach(&mut self, person: u32, device: u32) {
        if let Some(p) = self.person_mut(person) {
            p.devices.retain(|&d| d != device);
        }
        if let Some(r) = self.registration_mut(device) {
            r.person = None;
            r.is_primary = false;
        }
    }

    /// Clears `isPrimary` on every device of `person` except `device`.
    fn make_only_primary(&mut self, person: u32, device: u32) {
        let keep_others = self.defects.has(Defect::SecondPrimary);
        let count = self
            .persons
            .get(person as usize)
            .map_or(0, |p| p.devices.len());
        for k in 0..count {
            let Some(&d) = self
                .persons
                .get(person as usize)
                .and_then(|p| p.devices.get(k))
            else {
                break;
            };
            if let Some(r) = self.registration_mut(d) {
                r.is_primary = d == device || (keep_others && r.is_primary);
            }
        }
    }

    /// For the `personalize.set_primary_clears_unrelated` defect: the first primary device
    /// (in creation order) that is not `person`'s is no longer primary.
    fn clear_unrelated_primary(&mut self, person: u32) {
        let unrelated = self
            .registrations
            .iter()
            .position(|r| r.is_primary && r.person != Some(person));
        if let Some(r) = unrelated.and_then(|i| self.registration_mut(i as u32)) {
            r.is_primary = false;
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
    let (mine, given) = (&mut person.fields, a.fields);
    fn set<T>(slot: &mut Option<T>, value: Option<T>) {
        if value.is_some() {
            *slot = value;
        }
    }
    set(&mut mine.first_name, given.first_name);
    set(&mut mine.last_name, given.last_name);
    set(&mut mine.middle_name, given.middle_name);
    set(&mut mine.birthday, given.birthday);
    set(&mut mine.gender, given.gender);
    set(&mut mine.tags, given.tags);
    if let Some(custom) = a.custom {
        person.custom.extend(custom);
    }
}
