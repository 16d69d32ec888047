//! The undo journal of [`State::unkept`]: what each write primitive overwrote, replayed backwards.
//!
//! It records only while a caller asked for a write that is not kept; otherwise the primitives
//! skip it with one branch. This module must not know any rule: it restores values.

use std::sync::Arc;

use super::{IdentityKind, Person, Registration, State};

/// One overwritten value.
#[derive(Debug)]
enum Undo {
    Registration(u32, Registration),
    Person(u32, Box<Person>),
    PersonsLen(usize),
    Identity(IdentityKind, String, Option<u32>),
    Id(Arc<str>, u32),
}

/// What an unkept write changed, oldest first.
#[derive(Debug, Default)]
pub(super) struct Journal(Vec<Undo>);

impl Journal {
    pub fn registration(&mut self, index: u32, before: &Registration) {
        self.0.push(Undo::Registration(index, before.clone()));
    }

    pub fn person(&mut self, index: u32, before: &Person) {
        self.0.push(Undo::Person(index, Box::new(before.clone())));
    }

    pub fn persons_len(&mut self, before: usize) {
        self.0.push(Undo::PersonsLen(before));
    }

    pub fn identity(&mut self, kind: IdentityKind, value: String, before: Option<u32>) {
        self.0.push(Undo::Identity(kind, value, before));
    }

    pub fn id(&mut self, id: Arc<str>, index: u32) {
        self.0.push(Undo::Id(id, index));
    }

    /// Puts every recorded value back, newest first.
    pub fn roll_back(self, state: &mut State) {
        for undo in self.0.into_iter().rev() {
            match undo {
                Undo::Registration(i, before) => {
                    if let Some(slot) = state.registrations.get_mut(i as usize) {
                        *slot = before;
                    }
                }
                Undo::Person(i, before) => {
                    if let Some(slot) = state.persons.get_mut(i as usize) {
                        *slot = *before;
                    }
                }
                Undo::PersonsLen(len) => state.persons.truncate(len),
                Undo::Identity(kind, value, before) => {
                    let index = state.identity_index_mut(kind);
                    match before {
                        Some(p) => index.insert(value, p),
                        None => index.remove(&value),
                    };
                }
                Undo::Id(id, index) => {
                    state.by_id.insert(id, index);
                }
            }
        }
    }
}
