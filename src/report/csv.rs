//! `timeline.csv`: a load's timeline as CSV, one line per step and operation. It only reads
//! the timeline ([`crate::load::timeline`] keeps the data).

use crate::load::timeline::TimelineSummary;

/// A header and one line per point.
pub fn timeline(t: &TimelineSummary) -> String {
    let mut out = String::from(
        "t_secs,operation,requests,rps,errors,violations,no_answer,status_4xx,status_5xx,p50_ms,p95_ms,p99_ms,max_ms\n",
    );
    for p in &t.points {
        out.push_str(&format!(
            "{},{},{},{:.1},{},{},{},{},{},{:.3},{:.3},{:.3},{:.3}\n",
            p.t_secs,
            p.operation,
            p.requests,
            p.rps,
            p.errors,
            p.violations,
            p.no_answer,
            p.status_4xx,
            p.status_5xx,
            p.p50_ms,
            p.p95_ms,
            p.p99_ms,
            p.max_ms
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::timeline::TimelinePoint;

    #[test]
    fn one_line_per_point_after_the_header() {
        let t = TimelineSummary {
            step_secs: 1,
            points: vec![TimelinePoint {
                t_secs: 2,
                operation: "GET registration",
                requests: 10,
                rps: 10.0,
                errors: 1,
                p50_ms: 1.5,
                ..TimelinePoint::default()
            }],
            ..TimelineSummary::default()
        };
        assert_eq!(
            timeline(&t).lines().nth(1),
            Some("2,GET registration,10,10.0,1,0,0,0,0,1.500,0.000,0.000,0.000")
        );
    }
}
