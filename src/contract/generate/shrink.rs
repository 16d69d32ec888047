//! Shrinking a failing sequence: the smaller sequences worth trying next, in order — whole
//! chunks of steps removed (delta debugging: halves first, then quarters, down to single
//! steps), then each step made simpler (a flag turned off, a body with one top-level field
//! fewer). The runner tries them in order within its request budget, keeps the first that
//! still fails and asks again, until none does.
//!
//! Steps are removed, not rewritten: a sequence of the generator's own steps stays readable and
//! replayable. This module is pure (no I/O): it proposes, the runner decides.

use serde_json::Value;

use super::step::{Body, Step};

/// Sequences smaller or simpler than `steps`, most promising first.
pub fn candidates(steps: &[Step]) -> Vec<Vec<Step>> {
    let mut out = removals(steps);
    out.extend(simplifications(steps));
    out
}

/// `steps` without one chunk, for chunk sizes len/2, len/4, …, 1.
fn removals(steps: &[Step]) -> Vec<Vec<Step>> {
    let n = steps.len();
    let mut out = Vec::new();
    let mut size = n / 2;
    while size >= 1 {
        let mut start = 0;
        while start < n {
            let end = (start + size).min(n);
            let rest: Vec<Step> = steps[..start]
                .iter()
                .chain(&steps[end..])
                .cloned()
                .collect();
            if !rest.is_empty() {
                out.push(rest);
            }
            start += size;
        }
        size /= 2;
    }
    out
}

/// `steps` with one step made simpler.
fn simplifications(steps: &[Step]) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        for simpler in simpler_steps(step) {
            let mut next = steps.to_vec();
            next[i] = simpler;
            out.push(next);
        }
    }
    out
}

fn simpler_steps(step: &Step) -> Vec<Step> {
    let mut out = Vec::new();
    match step {
        Step::Personalize { reg, flags, body } => {
            for i in 0..4 {
                if let Some(fewer) = flags.without(i) {
                    out.push(Step::Personalize {
                        reg: *reg,
                        flags: fewer,
                        body: body.clone(),
                    });
                }
            }
            for smaller in smaller_bodies(body) {
                out.push(Step::Personalize {
                    reg: *reg,
                    flags: *flags,
                    body: smaller,
                });
            }
        }
        Step::Patch { reg, body } => {
            for smaller in smaller_bodies(body) {
                out.push(Step::Patch {
                    reg: *reg,
                    body: smaller,
                });
            }
        }
        Step::Get { .. } | Step::Depersonalize { .. } => {}
    }
    out
}

/// A JSON object body without one of its fields (objects of two or more fields; nested one
/// level: an identity or attributes object loses one key).
fn smaller_bodies(body: &Body) -> Vec<Body> {
    let Body::Json(Value::Object(map)) = body else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in map.keys() {
        if map.len() > 1 {
            let mut smaller = map.clone();
            smaller.remove(key);
            out.push(Body::Json(Value::Object(smaller)));
        }
        if let Some(Value::Object(inner)) = map.get(key)
            && inner.len() > 1
        {
            for inner_key in inner.keys() {
                let mut smaller = map.clone();
                let mut fewer = inner.clone();
                fewer.remove(inner_key);
                smaller.insert(key.clone(), Value::Object(fewer));
                out.push(Body::Json(Value::Object(smaller)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::step::Flags;
    use super::*;
    use serde_json::json;

    /// Shrinks with a predicate, as the runner does with requests.
    fn shrink(mut steps: Vec<Step>, fails: impl Fn(&[Step]) -> bool) -> Vec<Step> {
        'outer: loop {
            for c in candidates(&steps) {
                if fails(&c) {
                    steps = c;
                    continue 'outer;
                }
            }
            return steps;
        }
    }

    #[test]
    fn a_failure_needing_two_steps_shrinks_to_those_two() {
        let noise = |reg| Step::Get { reg };
        let patch = Step::Patch {
            reg: 1,
            body: Body::Json(json!({"isPrimary": true, "additionalData": {"a": 1, "b": 2}})),
        };
        let personalize = Step::Personalize {
            reg: 0,
            flags: Flags {
                set_device_as_primary: true,
                return_push: true,
                ..Flags::default()
            },
            body: Body::Json(json!({"identity": {"phoneNumber": "{{phone:0}}"}})),
        };
        let steps = vec![
            noise(0),
            patch.clone(),
            noise(1),
            noise(2),
            personalize.clone(),
            noise(0),
        ];
        // Fails when a patch making r1 primary comes before a personalize setting a primary.
        let fails = |s: &[Step]| {
            let p = s.iter().position(|x| {
                matches!(x, Step::Patch { body: Body::Json(b), .. } if b.get("isPrimary").is_some())
            });
            let q = s.iter().position(|x| x.flags().set_device_as_primary);
            matches!((p, q), (Some(p), Some(q)) if p < q)
        };
        let shrunk = shrink(steps, fails);
        assert_eq!(shrunk.len(), 2, "{shrunk:?}");
        assert_eq!(
            shrunk[0],
            Step::Patch {
                reg: 1,
                body: Body::Json(json!({"isPrimary": true}))
            }
        );
        assert_eq!(
            shrunk[1].flags(),
            Flags {
                set_device_as_primary: true,
                ..Flags::default()
            }
        );
    }
}
