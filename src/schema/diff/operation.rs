//! One operation compared part by part: parameters, request body, and the body of every
//! response status. Error statuses are compared as sets of body shapes (pushcheck accepts
//! `error-push` or `error-legacy` on a 400): each of pushcheck's shapes is paired with the
//! published shape most like it, pairs are compared field by field, and a shape left over on
//! either side is one `error-body-changed` finding.

use super::classify::Direction;
use super::compare::{self, Change, Raw, alternatives, describe, pair};
use super::load::Version;
use super::locate::{self, Body, Found, Param};
use super::normalize::{Node, Normalizer, Travel, hide};
use super::resolve::{Doc, ResolveError, child};
use super::{DiffError, Kind, Place};

/// A schema found in a document, and its pointer.
type Schema<'a> = Option<(&'a serde_json::Value, String)>;

/// A difference and where in the operation it is.
#[derive(Debug, Clone)]
pub struct Item {
    pub place: Place,
    pub direction: Direction,
    pub raw: Raw,
}

/// Both documents, normalizing on demand; errors say which side was broken.
#[derive(Debug)]
pub struct Sides<'a> {
    ours: Doc<'a>,
    theirs: Doc<'a>,
    ours_norm: Normalizer<'a>,
    theirs_norm: Normalizer<'a>,
    /// The published file's name, for its errors.
    source: String,
}

fn own(e: ResolveError) -> DiffError {
    DiffError::Own(e)
}

impl<'a> Sides<'a> {
    pub fn new(ours: Doc<'a>, theirs: Doc<'a>, version: Version, source: &str) -> Sides<'a> {
        Sides {
            ours,
            theirs,
            ours_norm: Normalizer::new(ours, Version::V3_1),
            theirs_norm: Normalizer::new(theirs, version),
            source: source.to_owned(),
        }
    }

    fn published(&self) -> impl Fn(ResolveError) -> DiffError + '_ {
        |error| DiffError::Published {
            source_name: self.source.clone(),
            error,
        }
    }

    /// pushcheck's schema, normalized; no schema (no body) is "any value" at `at`.
    fn ours_node(&mut self, schema: &Schema<'a>, at: &str) -> Result<Node, DiffError> {
        match schema {
            Some((value, at)) => self.ours_norm.node(value, at).map_err(own),
            None => Ok(Node::any_at(at)),
        }
    }

    /// The published file's schema, normalized.
    fn theirs_node(&mut self, schema: &Schema<'a>, at: &str) -> Result<Node, DiffError> {
        match schema {
            Some((value, at)) => {
                let node = self.theirs_norm.node(value, at);
                node.map_err(self.published())
            }
            None => Ok(Node::any_at(at)),
        }
    }

    /// Every difference of one operation, and every place compared (for the JUnit test cases).
    pub fn operation(
        &mut self,
        o: &Found<'a>,
        t: &Found<'a>,
    ) -> Result<(Vec<Item>, Vec<Place>), DiffError> {
        let mut items = Vec::new();
        let mut places = vec![Place::Request];
        let ours_params = locate::parameters(self.ours, o).map_err(own)?;
        let theirs_params = locate::parameters(self.theirs, t).map_err(self.published())?;
        self.parameters(&ours_params, &theirs_params, t, &mut items)?;
        let ours_body = locate::request_body(self.ours, o).map_err(own)?;
        let theirs_body = locate::request_body(self.theirs, t).map_err(self.published())?;
        self.body(
            Place::Request,
            Direction::Request,
            ours_body.as_ref(),
            theirs_body.as_ref(),
            (&o.at, &t.at),
            &mut items,
        )?;
        let ours_responses = locate::responses(self.ours, o).map_err(own)?;
        let theirs_responses = locate::responses(self.theirs, t).map_err(self.published())?;
        let mut statuses: Vec<&String> = ours_responses.iter().map(|(s, _)| s).collect();
        statuses.extend(
            theirs_responses
                .iter()
                .map(|(s, _)| s)
                .filter(|s| !ours_responses.iter().any(|(o, _)| o == *s)),
        );
        for status in statuses {
            let place = Place::Response(status.clone());
            let find = |list: &'_ [(String, Body<'a>)]| {
                list.iter()
                    .find(|(s, _)| s == status)
                    .map(|(_, b)| b.clone())
            };
            let (ob, tb) = (find(&ours_responses), find(&theirs_responses));
            let (ours_list, theirs_list) = (child(&o.at, "responses"), child(&t.at, "responses"));
            let ats = (ours_list.as_str(), theirs_list.as_str());
            match (&ob, &tb) {
                (Some(_), Some(_)) if place.is_error() => {
                    self.error_body(&place, ob.as_ref(), tb.as_ref(), &mut items)?
                }
                (Some(_), Some(_)) => self.body(
                    place.clone(),
                    Direction::Response,
                    ob.as_ref(),
                    tb.as_ref(),
                    ats,
                    &mut items,
                )?,
                (Some(b), None) => items.push(whole(
                    place.clone(),
                    Kind::StatusMissing,
                    Change::Narrower,
                    (&b.at, ats.1),
                    ("documented", "absent"),
                )),
                (None, Some(b)) => items.push(whole(
                    place.clone(),
                    Kind::StatusAdded,
                    Change::Wider,
                    (ats.0, &b.at),
                    ("absent", "documented"),
                )),
                (None, None) => {}
            }
            places.push(place);
        }
        Ok((items, places))
    }

    /// A request or success body: absent on one side, or compared field by field.
    fn body(
        &mut self,
        place: Place,
        direction: Direction,
        ours: Option<&Body<'a>>,
        theirs: Option<&Body<'a>>,
        (ours_at, theirs_at): (&str, &str),
        items: &mut Vec<Item>,
    ) -> Result<(), DiffError> {
        let ours_schema = ours.and_then(|b| b.schema.clone());
        let theirs_schema = theirs.and_then(|b| b.schema.clone());
        let mut raw = Vec::new();
        match (&ours_schema, &theirs_schema) {
            (None, None) => {}
            (Some((_, at)), None) => raw.push(body_raw(
                Kind::BodyMissing,
                Change::Narrower,
                at,
                theirs.map_or(theirs_at, |b| &b.at),
                "a JSON body",
                "no body",
            )),
            (None, Some((_, at))) => raw.push(body_raw(
                Kind::BodyAdded,
                Change::Wider,
                ours.map_or(ours_at, |b| &b.at),
                at,
                "no body",
                "a JSON body",
            )),
            (Some(_), Some(_)) => {
                let way = match direction {
                    Direction::Request => Travel::Request,
                    Direction::Response => Travel::Response,
                };
                let mut o = self.ours_node(&ours_schema, ours_at)?;
                let mut t = self.theirs_node(&theirs_schema, theirs_at)?;
                hide(&mut o, way);
                hide(&mut t, way);
                compare::compare(&o, &t, "", &mut raw);
            }
        }
        items.extend(raw.into_iter().map(|raw| Item {
            place: place.clone(),
            direction,
            raw,
        }));
        Ok(())
    }

    /// An error status: shapes paired, pairs compared, leftovers one `error-body-changed`.
    fn error_body(
        &mut self,
        place: &Place,
        ours: Option<&Body<'a>>,
        theirs: Option<&Body<'a>>,
        items: &mut Vec<Item>,
    ) -> Result<(), DiffError> {
        let (Some(ob), Some(tb)) = (ours, theirs) else {
            return Ok(());
        };
        if ob.schema.is_none() || tb.schema.is_none() {
            return self.body(
                place.clone(),
                Direction::Response,
                ours,
                theirs,
                (&ob.at, &tb.at),
                items,
            );
        }
        let mut o = self.ours_node(&ob.schema, &ob.at)?;
        let mut t = self.theirs_node(&tb.schema, &tb.at)?;
        hide(&mut o, Travel::Response);
        hide(&mut t, Travel::Response);
        let (a, b) = (alternatives(&o), alternatives(&t));
        let (pairs, left_ours, left_theirs) = pair(&a, &b);
        let mut raw = Vec::new();
        for (i, j) in pairs {
            compare::compare(a[i], b[j], "", &mut raw);
        }
        if left_ours + left_theirs > 0 {
            let shapes = |n: &[&Node]| {
                n.iter()
                    .map(|x| describe(x))
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            raw.push(body_raw(
                Kind::ErrorBodyChanged,
                Change::Other,
                &o.at,
                &t.at,
                &shapes(&a),
                &shapes(&b),
            ));
        }
        items.extend(raw.into_iter().map(|raw| Item {
            place: place.clone(),
            direction: Direction::Response,
            raw,
        }));
        Ok(())
    }

    fn parameters(
        &mut self,
        ours: &[Param<'a>],
        theirs: &[Param<'a>],
        t: &Found<'a>,
        items: &mut Vec<Item>,
    ) -> Result<(), DiffError> {
        let mut unmatched: Vec<&Param<'a>> = Vec::new();
        let mut used = vec![false; theirs.len()];
        for o in ours {
            // The path ID is matched by position, whatever it is called.
            let found = theirs.iter().enumerate().find(|(j, p)| {
                !used[*j]
                    && p.location == o.location
                    && (o.location == "path" || locate::same_name(o, p))
            });
            match found {
                Some((j, p)) => {
                    used[j] = true;
                    self.parameter(o, p, items)?;
                }
                None => unmatched.push(o),
            }
        }
        let mut extra: Vec<&Param<'a>> = theirs
            .iter()
            .enumerate()
            .filter(|(j, _)| !used[*j])
            .map(|(_, p)| p)
            .collect();
        for o in unmatched {
            let item = self.unmatched(o, &mut extra, t)?;
            items.push(item);
        }
        for p in extra {
            let place = Place::Parameter {
                location: p.location.clone(),
                name: p.name.clone(),
            };
            let (kind, says) = if p.required {
                (Kind::RequiredAdded, "required")
            } else {
                (Kind::ParameterAdded, "optional")
            };
            items.push(whole(
                place,
                kind,
                Change::Wider,
                ("", &p.at),
                ("absent", says),
            ));
        }
        Ok(())
    }

    /// One of pushcheck's parameters the file does not have by that name: renamed (a new one in
    /// the same place, of the same type, taken from `extra`) or missing.
    fn unmatched(
        &mut self,
        o: &Param<'a>,
        extra: &mut Vec<&Param<'a>>,
        t: &Found<'a>,
    ) -> Result<Item, DiffError> {
        let place = Place::Parameter {
            location: o.location.clone(),
            name: o.name.clone(),
        };
        let types = self.ours_node(&o.schema, &o.at)?.value_types();
        let mut renamed = None;
        for (i, p) in extra.iter().enumerate() {
            if p.location == o.location
                && self.theirs_node(&p.schema, &p.at)?.value_types() == types
            {
                renamed = Some(i);
                break;
            }
        }
        Ok(match renamed.map(|i| extra.remove(i)) {
            Some(p) => whole(
                place,
                Kind::ParameterRenamed,
                Change::Other,
                (&o.at, &p.at),
                (&o.name, &p.name),
            ),
            None => whole(
                place,
                Kind::ParameterMissing,
                Change::Other,
                (&o.at, &child(&t.at, "parameters")),
                (&o.name, "absent"),
            ),
        })
    }

    fn parameter(
        &mut self,
        o: &Param<'a>,
        t: &Param<'a>,
        items: &mut Vec<Item>,
    ) -> Result<(), DiffError> {
        let place = Place::Parameter {
            location: o.location.clone(),
            name: o.name.clone(),
        };
        match (o.required, t.required) {
            (false, true) => items.push(whole(
                place.clone(),
                Kind::RequiredAdded,
                Change::Narrower,
                (&o.at, &t.at),
                ("optional", "required"),
            )),
            (true, false) => items.push(whole(
                place.clone(),
                Kind::RequiredRemoved,
                Change::Wider,
                (&o.at, &t.at),
                ("required", "optional"),
            )),
            _ => {}
        }
        let on = self.ours_node(&o.schema, &o.at)?;
        let tn = self.theirs_node(&t.schema, &t.at)?;
        let mut raw = Vec::new();
        compare::compare(&on, &tn, "", &mut raw);
        items.extend(raw.into_iter().map(|raw| Item {
            place: place.clone(),
            direction: Direction::Request,
            raw,
        }));
        Ok(())
    }
}

fn body_raw(
    kind: Kind,
    change: Change,
    ours_at: &str,
    theirs_at: &str,
    ours: &str,
    theirs: &str,
) -> Raw {
    Raw {
        kind,
        change,
        field: String::new(),
        keyword: None,
        pushcheck_at: ours_at.to_owned(),
        published_at: theirs_at.to_owned(),
        pushcheck_says: ours.to_owned(),
        published_says: theirs.to_owned(),
    }
}

/// A finding about a whole parameter or status (no payload field).
fn whole(
    place: Place,
    kind: Kind,
    change: Change,
    (ours_at, theirs_at): (&str, &str),
    (ours, theirs): (&str, &str),
) -> Item {
    let direction = if matches!(place, Place::Response(_)) {
        Direction::Response
    } else {
        Direction::Request
    };
    Item {
        place,
        direction,
        raw: body_raw(kind, change, ours_at, theirs_at, ours, theirs),
    }
}
