//! Shape drift over a run: the skeletons of each response kind, merged, against the pinned doc
//! shapes ([`crate::schema::shape`]); a missing optional field is "not seen", and each finding
//! names the cases whose responses produced it.

use std::collections::BTreeMap;

use super::result::Finding;
use crate::schema::shape::{Skeleton, pinned, required_in};

/// Drift of each response kind over the run, against the pinned doc shapes; each finding names
/// the cases whose responses produced it.
pub(crate) fn drift_of(
    observed: &BTreeMap<&'static str, Vec<(&'static str, Skeleton)>>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (schema, seen) in observed {
        let Some(pin) = pinned(schema) else { continue };
        let mut merged = Skeleton::default();
        for (_, skeleton) in seen {
            merged.merge(skeleton);
        }
        for change in pin.diff_with(&merged, &|path| required_in(schema, path)) {
            let mut cases: Vec<String> = seen
                .iter()
                .filter(|(_, s)| change.actual.is_none() || s.get(&change.path).is_some())
                .map(|(name, _)| (*name).to_owned())
                .collect();
            cases.dedup();
            out.push(Finding::from_shape(schema, &change, cases));
        }
    }
    out
}
