//! The fast path of the judge: "this body is valid" decided while the body is parsed, without
//! building a `serde_json::Value` and without the full validator, for the overwhelmingly common
//! valid answer under load.
//!
//! The schemas are not spelled again here: each file of `schemas/` (and strict mode's closed
//! variant, the registry's own `close_objects`) is compiled into [`Node`](compile::Node)s that
//! understand a plain subset of JSON Schema (type, enum/const, lengths, plain patterns, integer
//! bounds, properties/required/additionalProperties/propertyNames, items, and the applicators on
//! scalars). A body is streamed through them with serde's `DeserializeSeed`: strings are
//! borrowed, objects and arrays are never built. The answer is one bit: `true` means the body
//! is JSON, valid against the schema, and holds every [`Want`]; `false` means *not sure*, and the
//! caller must judge the body the full way (`schema::judge` then parses it into a `Value` and
//! runs `jsonschema`, so every violation keeps its one wording). Anything the fast path does not
//! understand (an unknown keyword, `format`, a float against a bound, a duplicate key, a number
//! in an `enum`) is *not sure*, never a guess; `tests` checks its answers against `jsonschema` on
//! bodies generated from the schemas themselves, every field's boundary included.
//!
//! This module decides no verdict and words no break: it only says when the full judge is not
//! needed.

mod compile;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::fmt;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use compile::{ARRAY, Compiler, Node, OBJECT, Scalar, Tri};

use crate::schema::Mode;
use crate::schema::registry::{SCHEMA_FILES, close_objects};

/// A string a valid body must hold exactly once, at `path` (object keys from the root), for the
/// fast path to say yes: what the judge's meaning and `applicationId` checks read.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    pub path: &'a [&'a str],
    pub value: &'a str,
}

/// At most this many wants per body.
pub const MAX_WANTS: usize = 4;

/// Whether `body` is certainly JSON valid against schema `name` in `mode`, holding every one of
/// `wants` (each exactly once, as a string). `false`: not sure.
pub fn accepts(name: &str, mode: Mode, body: &[u8], wants: &[Want<'_>]) -> bool {
    plans()
        .iter()
        .find(|p| p.name == name)
        .is_some_and(|p| walk(p.node(mode), body, wants))
}

/// Whether `body` is certainly JSON (any shape). `false`: not sure.
pub fn is_json(body: &[u8]) -> bool {
    walk(&Node::Any, body, &[])
}

/// Whether the schema `name` is understood at its root in `mode` (a test keeps the response
/// schemas the load reads understood, so the fast path cannot be lost silently).
pub fn understands(name: &str, mode: Mode) -> bool {
    plans()
        .iter()
        .find(|p| p.name == name)
        .is_some_and(|p| !matches!(p.node(mode), Node::Unsure))
}

fn walk(node: &Node, body: &[u8], wants: &[Want<'_>]) -> bool {
    if wants.len() > MAX_WANTS {
        return false;
    }
    let ctx = Ctx {
        wants,
        found: Default::default(),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = Walk {
        node,
        ctx: &ctx,
        depth: 0,
        mask: (1 << wants.len()) - 1,
    };
    seed.deserialize(&mut de).is_ok()
        && de.end().is_ok()
        && ctx.found[..wants.len()].iter().all(|f| f.get() == 1)
}

/// One schema file, compiled in both modes.
struct Plan {
    name: &'static str,
    lenient: Node,
    strict: Node,
}

impl Plan {
    fn node(&self, mode: Mode) -> &Node {
        match mode {
            Mode::Lenient => &self.lenient,
            Mode::Strict => &self.strict,
        }
    }
}

fn plans() -> &'static [Plan] {
    static PLANS: LazyLock<Vec<Plan>> = LazyLock::new(|| {
        let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Bool(false));
        let lenient: Vec<(&'static str, Value)> = SCHEMA_FILES
            .iter()
            .map(|(name, text)| (*name, parse(text)))
            .collect();
        let strict: Vec<(&'static str, Value)> = lenient
            .iter()
            .map(|(name, doc)| {
                let mut doc = doc.clone();
                close_objects(&mut doc);
                (*name, doc)
            })
            .collect();
        let (l, s) = (Compiler { docs: &lenient }, Compiler { docs: &strict });
        lenient
            .iter()
            .zip(&strict)
            .map(|((name, ld), (_, sd))| Plan {
                name,
                lenient: l.compile(name, ld, 0),
                strict: s.compile(name, sd, 0),
            })
            .collect()
    });
    &PLANS
}

/// The wants of one body and how often each was found.
struct Ctx<'w> {
    wants: &'w [Want<'w>],
    found: [Cell<u8>; MAX_WANTS],
}

/// One value streamed through `node`; `mask`: the wants whose path leads here, `depth` keys
/// down from the root.
#[derive(Clone, Copy)]
struct Walk<'p> {
    node: &'p Node,
    ctx: &'p Ctx<'p>,
    depth: usize,
    mask: u32,
}

/// Every value of a node without assertions, and of a property no schema names (lenient).
static ANY: Node = Node::Any;

fn unsure<E: de::Error>() -> E {
    E::custom("not sure")
}

impl<'p> Walk<'p> {
    fn scalar<E: de::Error>(self, value: Scalar<'_>) -> Result<(), E> {
        if compile::scalar(self.node, value) != Tri::Valid {
            return Err(unsure());
        }
        for (i, want) in self.ctx.wants.iter().enumerate() {
            if self.mask & (1 << i) != 0 && want.path.len() == self.depth {
                match value {
                    Scalar::Str(s) if s == want.value => {
                        self.ctx.found[i].set(self.ctx.found[i].get().saturating_add(1));
                    }
                    _ => return Err(unsure()),
                }
            }
        }
        Ok(())
    }

    /// The node's checks for an object or array (`ty`), or not sure.
    fn compound<E: de::Error>(self, ty: u8) -> Result<Option<&'p compile::Check>, E> {
        let ends_here = self.mask != 0
            && (self.ctx.wants.iter().enumerate())
                .any(|(i, w)| self.mask & (1 << i) != 0 && w.path.len() == self.depth);
        match self.node {
            _ if ends_here => Err(unsure()),
            Node::Any => Ok(None),
            Node::Check(c) if c.streams(ty) => Ok(Some(c)),
            _ => Err(unsure()),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(Scalar::Unsigned(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(Scalar::Signed(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(Scalar::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(Scalar::Str(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let check = self.compound(OBJECT)?;
        let mut seen = 0u64;
        while let Some(key) = map.next_key_seed(KeySeed { walk: self, check })? {
            let node = match (check, key.property) {
                (Some(c), Some(i)) => {
                    if seen & (1 << i) != 0 {
                        return Err(unsure()); // a duplicate: the full judge keeps the last
                    }
                    seen |= 1 << i;
                    &c.properties[i].1
                }
                (Some(c), None) => c.additional.as_ref().unwrap_or(&ANY),
                (None, _) => &ANY,
            };
            map.next_value_seed(Walk {
                node,
                ctx: self.ctx,
                depth: self.depth + 1,
                mask: key.mask,
            })?;
        }
        match check {
            Some(c) if c.required & !seen != 0 => Err(unsure()),
            _ => Ok(()),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let check = self.compound(ARRAY)?;
        let node = check.and_then(|c| c.items.as_ref()).unwrap_or(&ANY);
        let item = Walk {
            node,
            ctx: self.ctx,
            depth: self.depth + 1,
            mask: 0,
        };
        let mut count = 0u64;
        while seq.next_element_seed(item)?.is_some() {
            count += 1;
        }
        let fits = check.is_none_or(|c| {
            c.min_items.is_none_or(|m| count >= m) && c.max_items.is_none_or(|m| count <= m)
        });
        if fits { Ok(()) } else { Err(unsure()) }
    }
}

/// A key of an object: which property it is, and the wants whose path goes on through it.
struct Key {
    property: Option<usize>,
    mask: u32,
}

#[derive(Clone, Copy)]
struct KeySeed<'p> {
    walk: Walk<'p>,
    check: Option<&'p compile::Check>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        let Walk {
            ctx, depth, mask, ..
        } = self.walk;
        let mut property = None;
        if let Some(c) = self.check {
            if let Some(names) = &c.names
                && compile::scalar(names, Scalar::Str(key)) != Tri::Valid
            {
                return Err(unsure());
            }
            property = c.properties.iter().position(|(name, _)| name == key);
        }
        let mut next = 0;
        for (i, want) in ctx.wants.iter().enumerate().filter(|_| mask != 0) {
            if mask & (1 << i) != 0 && want.path.get(depth) == Some(&key) {
                next |= 1 << i;
            }
        }
        Ok(Key {
            property,
            mask: next,
        })
    }
}
