//! What a difference means for a client: the one table from (kind, direction, which way) to
//! [`Class`], and the known disagreements (`api::docs::DISAGREEMENTS`, the list `schemas
//! lint-docs` prints) that turn a finding into `known`.
//!
//! "Ours" is what pushcheck's schemas (the docs) say a client may rely on; "theirs" is the
//! published file. A response that may now carry more than a client expects, or a request that
//! must now carry more than a client sends, breaks clients; the opposite is additive.

use super::compare::Change;
use super::{Class, Kind, Place};
use crate::api::docs::{DISAGREEMENTS, DiffSpot, Disagreement};

/// Whether a payload goes to the API or comes from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

/// The class of a difference of `kind`, going `change`, in a `direction` payload.
pub fn class(kind: Kind, change: Change, direction: Direction, place: &Place) -> Class {
    use Class::{Additive, Breaking, Disagreement};
    let response = direction == Direction::Response;
    // Breaking in a response, additive in a request, and the other way round.
    let wider = if response { Breaking } else { Additive };
    let narrower = if response { Additive } else { Breaking };
    match kind {
        Kind::OperationMissing
        | Kind::ParameterMissing
        | Kind::ParameterRenamed
        | Kind::FieldRemoved
        | Kind::BodyMissing => Breaking,
        Kind::ParameterAdded | Kind::FieldAdded => Additive,
        Kind::RequiredAdded => narrower,
        Kind::RequiredRemoved | Kind::NullableAdded | Kind::EnumWidened | Kind::LimitLoosened => {
            wider
        }
        Kind::NullableRemoved | Kind::EnumNarrowed | Kind::LimitTightened => narrower,
        Kind::PatternChanged if change == Change::Other => Disagreement,
        Kind::TypeChanged | Kind::PatternChanged => match change {
            Change::Wider => wider,
            Change::Narrower => narrower,
            Change::Other => Breaking,
        },
        Kind::FormatChanged | Kind::ErrorBodyChanged => Disagreement,
        Kind::BodyAdded if response => Disagreement,
        Kind::BodyAdded => Breaking,
        // A catch-all (`default`, `4XX`) documents no new answer; a specific status does.
        Kind::StatusAdded if place.is_specific_status() => Disagreement,
        Kind::StatusAdded => Additive,
        Kind::StatusMissing if place.is_success() => Breaking,
        Kind::StatusMissing => Additive,
    }
}

/// The known disagreement a finding shows, if any.
pub fn known(
    kind: Kind,
    place: &Place,
    field: &str,
    published: &str,
) -> Option<&'static Disagreement> {
    DISAGREEMENTS.iter().find(|d| {
        d.spots
            .iter()
            .any(|spot| spot_matches(spot, kind, place, field, published))
    })
}

fn spot_matches(spot: &DiffSpot, kind: Kind, place: &Place, field: &str, published: &str) -> bool {
    spot.kind == kind.as_str()
        && spot.status.is_none_or(|s| place.status() == Some(s))
        && spot.published.is_none_or(|says| says == published)
        && glob(spot.field, field)
}

/// `*` matches one pointer token, a leading `**` any prefix.
fn glob(pattern: &str, field: &str) -> bool {
    let tokens: Vec<&str> = field.split('/').skip(1).collect();
    match pattern.strip_prefix("**") {
        Some(rest) => {
            let want: Vec<&str> = rest.split('/').skip(1).collect();
            tokens.len() >= want.len() && same(&want, &tokens[tokens.len() - want.len()..])
        }
        None => {
            let want: Vec<&str> = pattern.split('/').skip(1).collect();
            want.len() == tokens.len() && same(&want, &tokens)
        }
    }
}

fn same(pattern: &[&str], tokens: &[&str]) -> bool {
    pattern.iter().zip(tokens).all(|(p, t)| *p == "*" || p == t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("**/birthday", "/birthday"));
        assert!(glob("**/birthday", "/attributes/birthday"));
        assert!(!glob("**/birthday", "/birthdays"));
        assert!(glob(
            "**/additionalData/*",
            "/contactInformation/push/*/additionalData/*"
        ));
        assert!(!glob("**/additionalData/*", "/additionalData"));
        assert!(glob("", ""));
        assert!(!glob("", "/x"));
        assert!(glob(
            "/contactInformation/phones",
            "/contactInformation/phones"
        ));
    }

    #[test]
    fn direction_decides_for_limits_and_enums() {
        let body = Place::Response("200".into());
        let request = Place::Request;
        assert_eq!(
            class(
                Kind::LimitLoosened,
                Change::Wider,
                Direction::Response,
                &body
            ),
            Class::Breaking
        );
        assert_eq!(
            class(
                Kind::LimitTightened,
                Change::Narrower,
                Direction::Request,
                &request
            ),
            Class::Breaking
        );
        assert_eq!(
            class(
                Kind::EnumWidened,
                Change::Wider,
                Direction::Request,
                &request
            ),
            Class::Additive
        );
        assert_eq!(
            class(
                Kind::RequiredAdded,
                Change::Narrower,
                Direction::Request,
                &request
            ),
            Class::Breaking
        );
    }
}
