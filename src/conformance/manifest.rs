//! The suite's table of tests (`tests.tsv`): which tests exist, their conformance class, and
//! which start documents each one runs.
//!
//! The table is the W3C manifest flattened to one row per test, so the runner never parses
//! `manifest.xml`. The `ecma_files` column lists every file a test uses (sub-documents and data
//! files too); the start documents are the ones named after the test itself (`test403a.scxml`,
//! `test403b.scxml`, ... for 403, `null/test436.scxml` for 436).

use std::path::{Path, PathBuf};

/// `conformance` column: whether an implementation must pass the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Conformance {
    Mandatory,
    Optional,
}

impl Conformance {
    pub fn as_str(self) -> &'static str {
        match self {
            Conformance::Mandatory => "mandatory",
            Conformance::Optional => "optional",
        }
    }
}

/// One row of `tests.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// The W3C test number (`403` for test403a/b/c).
    pub id: u32,
    /// Specification section, e.g. `3.13`.
    pub spec: String,
    pub conformance: Conformance,
    /// Manual tests are not judged by reaching `pass`; the runner checks their meaning.
    pub manual: bool,
    /// `core`, `ecmascript`, `null` or `xpath`.
    pub profile: String,
    /// Feature tags such as `delay`, `invoke`, `http`.
    pub features: Vec<String>,
    /// Every file the test uses, relative to the suite directory.
    pub files: Vec<String>,
}

impl TestCase {
    /// `test403` style name used in reports.
    pub fn name(&self) -> String {
        format!("test{}", self.id)
    }

    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// The documents the test starts, in table order: files named `testNNN.scxml` or
    /// `testNNN<letter>.scxml` for this test's number.
    pub fn start_documents(&self, suite_dir: &Path) -> Vec<PathBuf> {
        let stem = self.name();
        let mut seen = Vec::new();
        for file in &self.files {
            let name = Path::new(file)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let Some(rest) = name
                .strip_prefix(&stem)
                .and_then(|r| r.strip_suffix(".scxml"))
            else {
                continue;
            };
            let is_start = rest.is_empty()
                || (rest.len() == 1 && rest.chars().all(|c| c.is_ascii_lowercase()));
            let path = suite_dir.join(file);
            if is_start && !seen.contains(&path) {
                seen.push(path);
            }
        }
        // A fully manual test (513) has no document, only its instructions `testNNN.txt`:
        // the runner carries them out itself.
        if seen.is_empty() {
            let instructions = format!("{stem}.txt");
            if let Some(file) = self.files.iter().find(|f| f.ends_with(&instructions)) {
                seen.push(suite_dir.join(file));
            }
        }
        seen
    }
}

/// Why `tests.tsv` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Row {
        path: String,
        line: usize,
        message: String,
    },
}

/// Reads `tests.tsv` from the suite directory.
pub fn read_manifest(suite_dir: &Path) -> Result<Vec<TestCase>, ManifestError> {
    let path = suite_dir.join("tests.tsv");
    let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_manifest(&text).map_err(|(line, message)| ManifestError::Row {
        path: path.display().to_string(),
        line,
        message,
    })
}

/// Parses the text of `tests.tsv` (header row first). Errors carry the 1-based line.
pub fn parse_manifest(text: &str) -> Result<Vec<TestCase>, (usize, String)> {
    let mut cases = Vec::new();
    for (index, row) in text.lines().enumerate().skip(1) {
        let line = index + 1;
        if row.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 8 {
            return Err((line, format!("expected 8 columns, found {}", cols.len())));
        }
        let id = cols[0]
            .trim()
            .parse()
            .map_err(|_| (line, format!("bad test id `{}`", cols[0])))?;
        let conformance = match cols[3].trim() {
            "mandatory" => Conformance::Mandatory,
            "optional" => Conformance::Optional,
            other => return Err((line, format!("bad conformance `{other}`"))),
        };
        let manual = match cols[4].trim() {
            "manual" => true,
            "auto" => false,
            other => return Err((line, format!("bad manual/auto value `{other}`"))),
        };
        cases.push(TestCase {
            id,
            spec: cols[1].trim().to_string(),
            conformance,
            manual,
            profile: cols[5].trim().to_string(),
            features: split_list(cols[6], ','),
            files: split_list(cols[7], ' '),
        });
    }
    Ok(cases)
}

fn split_list(text: &str, sep: char) -> Vec<String> {
    text.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "id\tspec\tspecid\tconformance\tmanual\tprofile\tfeatures\tecma_files\n\
        403\t3.13\t#x\tmandatory\tauto\tcore\tdelay,parallel\tecma/test403a.scxml ecma/test403b.scxml\n\
        276\t5.3\t#data\tmandatory\tauto\tcore\tinvoke\tecma/test276.scxml ecma/test276sub1.scxml\n\
        436\t5.1\t#x\tmandatory\tauto\tnull\t\tnull/test436.scxml\n\
        513\tD.2\t#x\toptional\tmanual\tcore\thttp\tecma/test513.txt\n";

    #[test]
    fn reads_rows_and_start_documents() {
        let cases = parse_manifest(TABLE).unwrap();
        assert_eq!(cases.len(), 4);
        let dir = Path::new("/suite");
        assert_eq!(
            cases[0].start_documents(dir),
            vec![
                dir.join("ecma/test403a.scxml"),
                dir.join("ecma/test403b.scxml")
            ]
        );
        assert_eq!(
            cases[1].start_documents(dir),
            vec![dir.join("ecma/test276.scxml")]
        );
        assert_eq!(
            cases[2].start_documents(dir),
            vec![dir.join("null/test436.scxml")]
        );
        assert!(cases[3].manual && cases[3].has_feature("http"));
        assert_eq!(
            cases[3].start_documents(dir),
            vec![dir.join("ecma/test513.txt")],
            "a test with no document runs from its instructions"
        );
    }

    #[test]
    fn rejects_short_rows() {
        assert_eq!(parse_manifest("header\n1\t2\n").unwrap_err().0, 2);
    }
}
