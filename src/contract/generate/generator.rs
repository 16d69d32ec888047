//! The generator: sequences of steps from a seed, with a small deterministic PRNG (splitmix64),
//! so a seed printed by one run generates the same sequences in the next.
//!
//! Bodies come from what `schemas/` allows, with the limits read from the schema registry (never
//! re-spelled here): mostly valid requests across the documented ranges (so sequences reach deep
//! states), boundaries (lengths 0, max and max+1, the i64 edges, real and impossible dates,
//! unicode, `"NULL"` strings) and invalid ones (wrong types, unknown fields, malformed JSON, a
//! missing identity). Identities are placeholders resolved in each attempt's namespace
//! (`step`), never literal values that could name a real person.
//!
//! This module must not send anything.

use serde_json::{Map, Value, json};

use super::step::{Body, Flags, Step, placeholder};
use crate::api::field;
use crate::api::footprint::{self, name};
use crate::schema::registry;
use crate::seeded::Rng;

/// How many identities of each kind a sequence draws from (few, so persons meet).
pub const IDENTITIES: u8 = 3;
/// Custom attribute names a sequence reuses, so writes overwrite and merge.
/// Custom attribute names of generated bodies: pushcheck's fixed footprint (`api::footprint`),
/// so that a live target that cannot delete keeps only these.
const NAMES: [&str; 4] = [name::TIER, name::SCORE, name::VIP, name::SINCE];

/// A limit of schema `name` at `pointer`, as a count.
fn limit(name: &str, pointer: &str) -> usize {
    registry()
        .number_at(name, pointer)
        .and_then(serde_json::Number::as_u64)
        .unwrap_or(0) as usize
}

/// The documented limits the boundaries are drawn at (from `schemas/`).
#[derive(Debug, Clone, Copy)]
struct Limits {
    name: usize,
    string: usize,
    first_name: usize,
    middle_name: usize,
}

impl Limits {
    fn read() -> Limits {
        Limits {
            name: limit("custom-attributes", "/propertyNames/maxLength"),
            string: limit("custom-attributes", "/$defs/value/maxLength"),
            first_name: limit("person-attributes", "/$defs/firstName/maxLength"),
            middle_name: limit("person-attributes", "/$defs/middleName/maxLength"),
        }
    }
}

/// Generates sequences over `registrations` registrations.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Rng,
    registrations: u8,
    limits: Limits,
}

impl Generator {
    pub fn new(seed: u64, registrations: usize) -> Generator {
        Generator {
            rng: Rng::new(seed),
            registrations: registrations.clamp(1, super::step::MAX_REGISTRATIONS) as u8,
            limits: Limits::read(),
        }
    }

    /// One sequence of 1..=`max_len` steps.
    pub fn sequence(&mut self, max_len: usize) -> Vec<Step> {
        let len = 1 + self.rng.below(max_len.max(1) as u64) as usize;
        (0..len).map(|_| self.step()).collect()
    }

    /// One step: get 15 %, patch 30 %, personalize 40 %, depersonalize 15 %.
    pub fn step(&mut self) -> Step {
        let reg = self.rng.below(u64::from(self.registrations)) as u8;
        match self.rng.below(100) {
            0..15 => Step::Get { reg },
            15..45 => Step::Patch {
                reg,
                body: self.patch_body(),
            },
            45..85 => Step::Personalize {
                reg,
                flags: self.flags(),
                body: self.personalize_body(),
            },
            _ => Step::Depersonalize { reg },
        }
    }

    fn flags(&mut self) -> Flags {
        Flags {
            force_depersonalize: self.rng.chance(35),
            keep_as_lead: self.rng.chance(30),
            return_push: self.rng.chance(30),
            set_device_as_primary: self.rng.chance(35),
        }
    }

    /// A PATCH body: valid 75 %, a boundary 15 %, invalid 10 %.
    fn patch_body(&mut self) -> Body {
        match self.rng.below(100) {
            0..75 => Body::Json(self.valid_patch()),
            75..90 => {
                let (name, value) = self.boundary_attribute();
                Body::Json(json!({ field::ADDITIONAL_DATA: { name: value } }))
            }
            _ => self.invalid_patch(),
        }
    }

    fn valid_patch(&mut self) -> Value {
        let mut body = Map::new();
        if self.rng.chance(50) {
            body.insert(field::IS_PRIMARY.into(), Value::Bool(self.rng.chance(60)));
        }
        if self.rng.chance(30) {
            body.insert(
                field::SYSTEM_DATA.into(),
                json!({ field::REGISTRATION_ENABLED: self.rng.chance(50) }),
            );
        }
        if body.is_empty() || self.rng.chance(50) {
            body.insert(field::ADDITIONAL_DATA.into(), self.attributes(true));
        }
        Value::Object(body)
    }

    /// One to three custom attributes of valid values (`null` deletes, when `deletes`).
    fn attributes(&mut self, deletes: bool) -> Value {
        let mut map = Map::new();
        for _ in 0..=self.rng.below(3) {
            let name = *self.rng.pick(&NAMES);
            map.insert(name.into(), self.valid_value(deletes));
        }
        Value::Object(map)
    }

    fn valid_value(&mut self, deletes: bool) -> Value {
        match self.rng.below(if deletes { 6 } else { 5 }) {
            0 => json!(self.rng.pick(&["gold", "silver", "", "NULL", "Grüße ✓"])),
            1 => json!(self.rng.below(1000) as i64 - 500),
            2 => json!(self.rng.chance(50)),
            3 => json!(self.rng.pick(&["2024-02-29", "1985-07-12", "2000-01-01"])),
            4 => json!(1.5),
            _ => Value::Null,
        }
    }

    /// A custom attribute at or just over a documented limit; named from pushcheck's fixed
    /// footprint (`api::footprint`), so a target that keeps it keeps one of a few names.
    fn boundary_attribute(&mut self) -> (String, Value) {
        let l = self.limits;
        let named = footprint::name_of_length;
        let (s, n, d) = (name::LONG, name::BIG, name::DATE);
        match self.rng.below(12) {
            0 => (named(l.name), json!(true)),
            1 => (named(l.name + 1), json!(true)),
            2 => (s.into(), json!("x".repeat(l.string))),
            3 => (s.into(), json!("x".repeat(l.string + 1))),
            // Code points, not bytes: 4096 emoji are at the limit.
            4 => (s.into(), json!("😀".repeat(l.string))),
            5 => (n.into(), json!(i64::MAX)),
            6 => (n.into(), json!(i64::MIN)),
            7 => (
                n.into(),
                serde_json::from_str("9223372036854775808").unwrap_or(Value::Null),
            ),
            8 => (d.into(), json!("2023-02-29")),
            9 => (d.into(), json!("2024-02-30")),
            // (No empty name: where it is accepted it would sit outside the footprint.)
            _ => (s.into(), json!("")),
        }
    }

    fn invalid_patch(&mut self) -> Body {
        let json = match self.rng.below(8) {
            0 => json!({ field::IS_PRIMARY: "true" }),
            1 => json!({ field::SYSTEM_DATA: { field::REGISTRATION_ENABLED: 1 } }),
            2 => json!({ field::ADDITIONAL_DATA: [name::TIER] }),
            3 => json!({ field::ADDITIONAL_DATA: { (name::TIER): { "nested": 1 } } }),
            4 => json!({ "isPrmary": true }),
            5 => json!([]),
            // A read-only field: ignored (a simulator choice), never stored.
            6 => json!({ field::SYSTEM_DATA: { field::OS_VERSION: "0.0-pushcheck" } }),
            _ => return Body::Raw(self.rng.pick(&["{\"isPrimary\": tru", "", "{"]).to_string()),
        };
        Body::Json(json)
    }

    /// A personalize body: valid 85 %, invalid 15 %.
    fn personalize_body(&mut self) -> Body {
        if self.rng.chance(85) {
            let mut body = Map::new();
            body.insert(field::IDENTITY.into(), self.identity());
            if self.rng.chance(30) {
                body.insert(field::ATTRIBUTES.into(), self.person_attributes());
            }
            Body::Json(Value::Object(body))
        } else {
            self.invalid_personalize()
        }
    }

    /// One to three identifiers, each one of the sequence's few identities.
    fn identity(&mut self) -> Value {
        let mut identity = Map::new();
        let kinds = [
            (field::PHONE_NUMBER, "phone"),
            (field::EMAIL, "email"),
            (field::EXTERNAL_ID, "ext"),
        ];
        let first = self.rng.below(3) as usize;
        for (i, (key, kind)) in kinds.iter().enumerate() {
            if i == first || self.rng.chance(20) {
                let n = self.rng.below(u64::from(IDENTITIES)) as u8;
                identity.insert((*key).into(), json!(placeholder(kind, n)));
            }
        }
        Value::Object(identity)
    }

    fn person_attributes(&mut self) -> Value {
        let l = self.limits;
        let mut attrs = Map::new();
        match self.rng.below(6) {
            0 => attrs.insert(field::FIRST_NAME.into(), json!("Ana")),
            1 => attrs.insert(field::FIRST_NAME.into(), json!("é".repeat(l.first_name))),
            2 => attrs.insert(field::MIDDLE_NAME.into(), json!("m".repeat(l.middle_name))),
            3 => attrs.insert(
                field::GENDER.into(),
                json!(self.rng.pick(&["MALE", "FEMALE"])),
            ),
            4 => attrs.insert(field::BIRTHDAY.into(), json!("1985-07-12")),
            _ => attrs.insert(field::TAGS.into(), json!(["a", "b"])),
        };
        if self.rng.chance(50) {
            attrs.insert(field::CUSTOM_ATTRIBUTES.into(), self.attributes(false));
        }
        Value::Object(attrs)
    }

    fn invalid_personalize(&mut self) -> Body {
        let l = self.limits;
        let phone = placeholder("phone", 0);
        let json = match self.rng.below(10) {
            0 => json!({}),
            1 => json!({ field::IDENTITY: {} }),
            2 => json!({ field::IDENTITY: { field::EXTERNAL_ID: "NULL" } }),
            3 => json!({ field::IDENTITY: { field::EMAIL: "not-an-email" } }),
            4 => json!({ field::IDENTITY: { field::PHONE_NUMBER: "+1 555" } }),
            5 => json!({ field::IDENTITY: phone }),
            6 => json!({ field::IDENTITY: { field::PHONE_NUMBER: phone },
                         field::ATTRIBUTES: { field::GENDER: "OTHER" } }),
            7 => json!({ field::IDENTITY: { field::PHONE_NUMBER: phone },
                         field::ATTRIBUTES: { field::MIDDLE_NAME: "m".repeat(l.middle_name + 1) } }),
            8 => json!({ field::IDENTITY: { field::PHONE_NUMBER: phone },
                         field::ATTRIBUTES: { field::BIRTHDAY: "1985-02-30" } }),
            _ => return Body::Raw("{\"identity\": {".into()),
        };
        Body::Json(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Mode;

    #[test]
    fn a_seed_generates_the_same_sequences() {
        let a: Vec<_> = (0..20)
            .map({
                let mut g = Generator::new(9, 3);
                move |_| g.sequence(6)
            })
            .collect();
        let mut g = Generator::new(9, 3);
        let b: Vec<_> = (0..20).map(|_| g.sequence(6)).collect();
        assert_eq!(a, b);
        let mut other = Generator::new(10, 3);
        assert_ne!(other.sequence(6), a[0]);
    }

    #[test]
    fn most_generated_bodies_are_valid_and_some_are_not() {
        let mut g = Generator::new(1, 3);
        let (mut valid, mut invalid) = (0, 0);
        let ns = super::super::step::Namespace::new(1, 1);
        for _ in 0..2000 {
            let step = g.step();
            let (Some(body), Some(schema)) = (step.body(), step.operation().request_schema())
            else {
                continue;
            };
            let ok = match body {
                Body::Json(v) => registry()
                    .is_valid(schema, Mode::Lenient, &ns.resolve(v))
                    .unwrap(),
                Body::Raw(_) => false,
            };
            if ok { valid += 1 } else { invalid += 1 }
        }
        assert!(valid > invalid * 3, "valid {valid}, invalid {invalid}");
        assert!(invalid > 50, "invalid {invalid}");
    }

    #[test]
    fn limits_come_from_the_schemas() {
        let l = Limits::read();
        assert_eq!((l.name, l.string, l.middle_name), (256, 4096, 50));
    }
}
