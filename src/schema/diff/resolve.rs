//! `$ref`s inside one OpenAPI document: `#/components/...` pointers (percent- and `~`-escaped),
//! chains of them (a ref to a ref), and cycles.
//!
//! Only references inside the document are followed: nothing is ever fetched. A reference to
//! another file or URL, one that points nowhere, and a chain that loops are errors naming the
//! reference and where it was found.

use serde_json::Value;

/// Longest chain of references to references followed before giving up.
pub const MAX_CHAIN: usize = 32;

/// A reference that cannot be followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "$ref {reference:?} at {at} points outside the document (only #/… references are followed)"
    )]
    External { reference: String, at: String },
    #[error("$ref {reference:?} at {at} points to nothing in the document")]
    Dangling { reference: String, at: String },
    #[error(
        "$ref {reference:?} at {at} is part of a chain of references that loops or is longer than {MAX_CHAIN}"
    )]
    Loop { reference: String, at: String },
    #[error("the schemas expand to more than {limit} nodes (at {at}): too large to compare")]
    TooLarge { at: String, limit: usize },
}

/// One OpenAPI document whose references can be followed.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    pub root: &'a Value,
}

impl<'a> Doc<'a> {
    pub fn new(root: &'a Value) -> Doc<'a> {
        Doc { root }
    }

    /// The target of one `$ref` string found at `at`, and the target's pointer.
    pub fn target(&self, reference: &str, at: &str) -> Result<(&'a Value, String), ResolveError> {
        let Some(fragment) = reference.strip_prefix('#') else {
            return Err(ResolveError::External {
                reference: reference.to_owned(),
                at: at.to_owned(),
            });
        };
        let pointer = percent_decode(fragment);
        match self.root.pointer(&pointer) {
            Some(value) => Ok((value, pointer)),
            None => Err(ResolveError::Dangling {
                reference: reference.to_owned(),
                at: at.to_owned(),
            }),
        }
    }

    /// Follows `value` (found at `at`) through every `$ref`, to the object that is not one;
    /// returns it and its pointer. For parameters, request bodies and responses, whose `$ref`
    /// siblings carry no meaning; schemas are followed one hop at a time by `normalize`.
    pub fn follow(&self, value: &'a Value, at: &str) -> Result<(&'a Value, String), ResolveError> {
        let mut current = (value, at.to_owned());
        for _ in 0..=MAX_CHAIN {
            match current.0.get("$ref").and_then(Value::as_str) {
                Some(reference) => current = self.target(reference, &current.1)?,
                None => return Ok(current),
            }
        }
        Err(ResolveError::Loop {
            reference: value
                .get("$ref")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            at: at.to_owned(),
        })
    }
}

/// A JSON pointer extended by one token (escaped).
pub fn child(pointer: &str, token: &str) -> String {
    format!(
        "{pointer}/{}",
        crate::schema::registry::pointer_token(token)
    )
}

/// Decodes `%XX` escapes of a URI fragment (`%7BpushRegId%7D`); malformed escapes stay as
/// written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chains_are_followed_and_loops_and_strangers_refused() {
        let doc = json!({
            "components": {"schemas": {
                "A": {"$ref": "#/components/schemas/B"},
                "B": {"$ref": "#/components/schemas/C~1D"},
                "C/D": {"type": "string"},
                "L1": {"$ref": "#/components/schemas/L2"},
                "L2": {"$ref": "#/components/schemas/L1"},
                "{x}": {"type": "integer"}
            }}
        });
        let d = Doc::new(&doc);
        let a = json!({"$ref": "#/components/schemas/A"});
        let (v, at) = d.follow(&a, "/x").expect("chain");
        assert_eq!(
            (v, at.as_str()),
            (&json!({"type": "string"}), "/components/schemas/C~1D")
        );
        let l = json!({"$ref": "#/components/schemas/L1"});
        assert!(matches!(d.follow(&l, "/y"), Err(ResolveError::Loop { .. })));
        let far = json!({"$ref": "other.yaml#/A"});
        assert!(matches!(
            d.follow(&far, "/z"),
            Err(ResolveError::External { .. })
        ));
        let nowhere = json!({"$ref": "#/components/schemas/Nope"});
        assert_eq!(
            d.follow(&nowhere, "/w").expect_err("dangling").to_string(),
            "$ref \"#/components/schemas/Nope\" at /w points to nothing in the document"
        );
        let encoded = json!({"$ref": "#/components/schemas/%7Bx%7D"});
        assert_eq!(
            d.follow(&encoded, "/v").expect("decoded").0["type"],
            "integer"
        );
    }
}
