//! The suite's results and how they are printed: one line per failing (and skipped) test, a
//! table by conformance class, and the `N passed, N failed, N skipped` summary.

use super::judge::Verdict;
use super::manifest::{Conformance, TestCase};
use std::fmt;
use std::time::Duration;

/// The result of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub case: TestCase,
    pub verdict: Verdict,
    /// Wall-clock time of its documents together.
    pub elapsed: Duration,
}

impl TestResult {
    /// The report line of a test that did not pass (`None` for a pass).
    pub fn line(&self) -> Option<String> {
        let name = self.case.name();
        match &self.verdict {
            Verdict::Pass => None,
            Verdict::Fail(reason) => Some(format!("{name} FAIL {reason}")),
            Verdict::Timeout => Some(format!("{name} TIMEOUT")),
            Verdict::Skip(reason) => Some(format!("{name} SKIP {reason}")),
        }
    }
}

/// Every test's result, in the order of `tests.tsv`.
#[derive(Debug, Clone, Default)]
pub struct SuiteReport {
    pub results: Vec<TestResult>,
}

/// Passed, failed and skipped counts of a group of tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail(_) | Verdict::Timeout => self.failed += 1,
            Verdict::Skip(_) => self.skipped += 1,
        }
    }
}

impl SuiteReport {
    pub fn result(&self, id: u32) -> Option<&TestResult> {
        self.results.iter().find(|r| r.case.id == id)
    }

    /// Tests that failed or timed out.
    pub fn failures(&self) -> impl Iterator<Item = &TestResult> {
        self.results.iter().filter(|r| r.verdict.is_failure())
    }

    pub fn skipped(&self) -> impl Iterator<Item = &TestResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Skip(_)))
    }

    pub fn counts(&self) -> Counts {
        self.counts_where(|_| true)
    }

    fn counts_where(&self, keep: impl Fn(&TestCase) -> bool) -> Counts {
        let mut counts = Counts::default();
        for r in self.results.iter().filter(|r| keep(&r.case)) {
            counts.add(&r.verdict);
        }
        counts
    }

    /// `N passed, N failed, N skipped`.
    pub fn summary(&self) -> String {
        let c = self.counts();
        format!(
            "{} passed, {} failed, {} skipped",
            c.passed, c.failed, c.skipped
        )
    }

    /// The table by conformance class (mandatory/optional × automatic/manual).
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<22}{:>8}{:>8}{:>9}\n",
            "class", "passed", "failed", "skipped"
        );
        for conformance in [Conformance::Mandatory, Conformance::Optional] {
            for manual in [false, true] {
                let c = self.counts_where(|t| t.conformance == conformance && t.manual == manual);
                let class = format!(
                    "{} {}",
                    conformance.as_str(),
                    if manual { "manual" } else { "automatic" }
                );
                out += &format!(
                    "{class:<22}{:>8}{:>8}{:>9}\n",
                    c.passed, c.failed, c.skipped
                );
            }
        }
        let c = self.counts();
        out += &format!(
            "{:<22}{:>8}{:>8}{:>9}",
            "total", c.passed, c.failed, c.skipped
        );
        out
    }
}

impl fmt::Display for SuiteReport {
    /// Failing lines, then skipped lines, then the table, then the summary as the last line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.failures().chain(self.skipped()) {
            if let Some(line) = r.line() {
                writeln!(f, "{line}")?;
            }
        }
        writeln!(f)?;
        writeln!(f, "{}", self.table())?;
        writeln!(f)?;
        write!(f, "{}", self.summary())
    }
}
