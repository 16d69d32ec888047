//! [`State::invariants`]: every documented rule checked over the whole state, both ways (each
//! record against the indexes, each index entry against the records).
//!
//! It reads only; a broken link is reported, never followed blindly.

use std::collections::HashMap;

use super::{InvariantViolation, Person, State};

/// The violations found so far.
#[derive(Debug, Default)]
struct Found(Vec<InvariantViolation>);

impl Found {
    fn add(&mut self, rule: &'static str, detail: String) {
        self.0.push(InvariantViolation { rule, detail });
    }
}

impl State {
    /// Checks every documented rule over the whole state; empty when all hold.
    pub fn invariants(&self) -> Vec<InvariantViolation> {
        let mut found = Found::default();
        self.check_registrations(&mut found);
        for (p, person) in self.persons.iter().enumerate() {
            self.check_devices(&mut found, p as u32, person);
            self.check_identities(&mut found, p as u32, person);
        }
        self.check_identity_indexes(&mut found);
        found.0
    }

    /// Unique IDs, each indexed under its own registration; a device's person lists it.
    fn check_registrations(&self, found: &mut Found) {
        if self.by_id.len() != self.registrations.len() {
            found.add(
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
                found.add(
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
                    found.add(
                        "device.one_person",
                        format!(
                            "registration {} points at person #{p}, which does not list it",
                            r.id
                        ),
                    );
                }
            }
        }
    }

    /// A person's devices exist, point back at it, are listed once; at most one is primary.
    fn check_devices(&self, found: &mut Found, p: u32, person: &Person) {
        let mut primaries = 0;
        for (k, &d) in person.devices.iter().enumerate() {
            let Some(r) = self.registrations.get(d as usize) else {
                found.add(
                    "device.one_person",
                    format!("person #{p} lists missing device #{d}"),
                );
                continue;
            };
            if r.person != Some(p) {
                found.add(
                    "device.one_person",
                    format!(
                        "person #{p} lists registration {}, which belongs to {:?}",
                        r.id, r.person
                    ),
                );
            }
            if person.devices[..k].contains(&d) {
                found.add(
                    "device.one_person",
                    format!("person #{p} lists registration {} twice", r.id),
                );
            }
            if r.is_primary {
                primaries += 1;
            }
        }
        if primaries > 1 {
            found.add(
                "person.one_primary_device",
                format!("person #{p} has {primaries} primary devices"),
            );
        }
    }

    /// A person's phones, emails and externalId are indexed under that person.
    fn check_identities(&self, found: &mut Found, p: u32, person: &Person) {
        for (rule, values, index) in [
            ("identity.unique_phone", &person.phones, &self.by_phone),
            ("identity.unique_email", &person.emails, &self.by_email),
        ] {
            for value in values {
                if index.get(value) != Some(&p) {
                    found.add(
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
            found.add(
                "identity.unique_external_id",
                format!(
                    "person #{p}'s externalId {ext:?} is indexed under {:?}",
                    self.by_external_id.get(ext)
                ),
            );
        }
    }

    /// Every index entry points at a person who has that identity.
    fn check_identity_indexes(&self, found: &mut Found) {
        let phone = |person: &Person, value: &String| person.phones.contains(value);
        self.check_index(found, "identity.unique_phone", &self.by_phone, phone, "");
        let email = |person: &Person, value: &String| person.emails.contains(value);
        self.check_index(found, "identity.unique_email", &self.by_email, email, "");
        let external = |person: &Person, value: &String| person.external_id.as_ref() == Some(value);
        let rule = "identity.unique_external_id";
        self.check_index(found, rule, &self.by_external_id, external, "externalId ");
    }

    /// Every entry of `index` points at a person for whom `has` holds.
    fn check_index(
        &self,
        found: &mut Found,
        rule: &'static str,
        index: &HashMap<String, u32>,
        has: impl Fn(&Person, &String) -> bool,
        what: &str,
    ) {
        for (value, &p) in index {
            if !self
                .persons
                .get(p as usize)
                .is_some_and(|person| has(person, value))
            {
                found.add(
                    rule,
                    format!("{what}{value:?} is indexed under person #{p}, who does not have it"),
                );
            }
        }
    }
}
