//! Answers of the bulk calls (`SetPaths`, `AddPaths`, `DeletePaths` and their
//! streams) that stay within a default gRPC client's 4 MB message limit
//! whatever the size of the load: exact counts always, per-path results
//! (or `SetPaths`' prefix lists) only up to [`LISTED_MAX`] entries, beyond
//! which only the failures are listed, each with its index in the request.

use ironlb_proto::bgpd::v1;

use crate::instance::owners::Diff;

/// Most entries an answer lists in full (about 1.5 MB of results): up to
/// here, answers are exactly what they were before the counts existed.
pub const LISTED_MAX: usize = 65_536;

/// `SetPathsResponse`: counts, and the prefixes while they are few enough.
pub fn set_paths_response(diff: &Diff) -> v1::SetPathsResponse {
    let total = diff.added.len() + diff.changed.len() + diff.withdrawn.len();
    let mut response = v1::SetPathsResponse {
        added_count: diff.added.len() as u64,
        changed_count: diff.changed.len() as u64,
        withdrawn_count: diff.withdrawn.len() as u64,
        prefixes_omitted: total > LISTED_MAX,
        ..Default::default()
    };
    if !response.prefixes_omitted {
        response.added = diff.added.iter().map(|p| p.prefix.to_string()).collect();
        response.changed = diff.changed.iter().map(|p| p.prefix.to_string()).collect();
        response.withdrawn = diff.withdrawn.iter().map(|(_, prefix)| prefix.to_string()).collect();
    }
    response
}

/// The answer of one bulk call, built batch by batch: every result is
/// counted and numbered; successes are dropped once more than
/// [`LISTED_MAX`] results have been seen.
#[derive(Debug, Default)]
pub struct BulkAnswer {
    results: Vec<v1::PathResult>,
    counts: v1::OutcomeCounts,
    seen: u64,
    successes_omitted: bool,
}

fn is_rejected(result: &v1::PathResult) -> bool {
    result.outcome == v1::PathOutcome::Rejected as i32
}

impl BulkAnswer {
    /// Adds one batch's results, in request order.
    pub fn extend(&mut self, results: Vec<v1::PathResult>) {
        for mut result in results {
            let counts = &mut self.counts;
            match v1::PathOutcome::try_from(result.outcome) {
                Ok(v1::PathOutcome::Added) => counts.added += 1,
                Ok(v1::PathOutcome::Changed) => counts.changed += 1,
                Ok(v1::PathOutcome::Unchanged) => counts.unchanged += 1,
                Ok(v1::PathOutcome::Withdrawn) => counts.withdrawn += 1,
                Ok(v1::PathOutcome::NotFound) => counts.not_found += 1,
                _ => counts.rejected += 1,
            }
            result.index = self.seen;
            self.seen += 1;
            if !self.successes_omitted || is_rejected(&result) {
                self.results.push(result);
            }
            if !self.successes_omitted && self.results.len() > LISTED_MAX {
                self.successes_omitted = true;
                self.results.retain(is_rejected);
            }
        }
    }

    pub fn add_response(self) -> v1::AddPathsResponse {
        v1::AddPathsResponse {
            results: self.results,
            counts: Some(self.counts),
            successes_omitted: self.successes_omitted,
        }
    }

    pub fn delete_response(self) -> v1::DeletePathsResponse {
        v1::DeletePathsResponse {
            results: self.results,
            counts: Some(self.counts),
            successes_omitted: self.successes_omitted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(outcome: v1::PathOutcome) -> v1::PathResult {
        v1::PathResult {
            prefix: "192.0.2.1/32".into(),
            outcome: outcome as i32,
            ..Default::default()
        }
    }

    #[test]
    fn small_answers_list_every_result_in_order() {
        let mut answer = BulkAnswer::default();
        answer.extend(vec![result(v1::PathOutcome::Added), result(v1::PathOutcome::Rejected)]);
        answer.extend(vec![result(v1::PathOutcome::Unchanged)]);
        let response = answer.add_response();
        assert!(!response.successes_omitted);
        let indices: Vec<u64> = response.results.iter().map(|r| r.index).collect();
        assert_eq!(indices, [0, 1, 2]);
        let counts = response.counts.unwrap();
        assert_eq!((counts.added, counts.rejected, counts.unchanged), (1, 1, 1));
    }

    #[test]
    fn large_answers_keep_counts_and_only_failures() {
        let mut answer = BulkAnswer::default();
        let mut batch = vec![result(v1::PathOutcome::Added); LISTED_MAX];
        batch[7] = result(v1::PathOutcome::Rejected);
        answer.extend(batch);
        answer.extend(vec![result(v1::PathOutcome::Changed), result(v1::PathOutcome::Rejected)]);
        let response = answer.add_response();
        assert!(response.successes_omitted);
        let indices: Vec<u64> = response.results.iter().map(|r| r.index).collect();
        assert_eq!(indices, [7, LISTED_MAX as u64 + 1]);
        let counts = response.counts.unwrap();
        assert_eq!(counts.added, LISTED_MAX as u64 - 1);
        assert_eq!((counts.changed, counts.rejected), (1, 2));
    }
}
