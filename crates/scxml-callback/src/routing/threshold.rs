//! `_eta_pos_threshold` and the `_agent_ready_threshold_passed` decision.
//!
//! The device polls `check-queue-position` and is told whether the agent is "about ready", so
//! it can prepare the customer before the reservation. The option is a list of
//! `eta_lower_bound:max_position` pairs sorted by ETA (default `0:10,10:5,20:2,30:1,40:0`).
//! Rule (GMS-REFERENCE §2.3): position 1 always passes; an unknown ETA passes with reason
//! `eta n/a`; otherwise take the band whose ETA range holds the ETA and pass when
//! `position < max_position`. The reason names the band in the seed's form, with inclusive
//! integer bounds: band `30:5` followed by `40:...` reads `eta <= 39 and position <= 4`.

use super::error::RoutingError;
use std::fmt;

/// The default `_eta_pos_threshold`.
pub const DEFAULT_ETA_POS_THRESHOLD: &str = "0:10,10:5,20:2,30:1,40:0";

/// One band: from `eta_from` seconds (inclusive) up to the next band's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    /// The ETA in seconds where the band starts (`eta_lower_bound`).
    pub eta_from: u64,
    /// Positions strictly below this pass.
    pub max_position: u64,
}

/// A parsed `_eta_pos_threshold`: bands sorted by `eta_from`, strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdTable {
    bands: Vec<Band>,
}

impl Default for ThresholdTable {
    fn default() -> ThresholdTable {
        ThresholdTable::parse(DEFAULT_ETA_POS_THRESHOLD).expect("the default table parses")
    }
}

/// The outcome: `_agent_ready_threshold_passed` and its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdDecision {
    /// The value of `_agent_ready_threshold_passed`.
    pub passed: bool,
    /// Why, for logs and the flow (which rule decided).
    pub reason: String,
}

impl ThresholdTable {
    /// Parses `eta:max_position` pairs separated by commas (spaces allowed). The pairs may come
    /// in any order; two pairs with the same ETA are an error.
    pub fn parse(text: &str) -> Result<ThresholdTable, RoutingError> {
        let bad = |m: String| RoutingError::bad_param("_eta_pos_threshold", m);
        let mut bands = Vec::new();
        for pair in text.split(',') {
            let pair = pair.trim();
            if pair.is_empty() {
                return Err(bad(format!("empty pair in '{text}'")));
            }
            let (eta, pos) = pair
                .split_once(':')
                .ok_or_else(|| bad(format!("'{pair}' is not eta:max_position")))?;
            let eta_from = eta.trim().parse::<u64>().map_err(|_| {
                bad(format!(
                    "'{}' in '{pair}' is not a number of seconds",
                    eta.trim()
                ))
            })?;
            let max_position = pos
                .trim()
                .parse::<u64>()
                .map_err(|_| bad(format!("'{}' in '{pair}' is not a position", pos.trim())))?;
            bands.push(Band {
                eta_from,
                max_position,
            });
        }
        bands.sort_by_key(|b| b.eta_from);
        if let Some(w) = bands.windows(2).find(|w| w[0].eta_from == w[1].eta_from) {
            return Err(bad(format!("eta {} appears twice", w[0].eta_from)));
        }
        Ok(ThresholdTable { bands })
    }

    /// The table's bands, in order.
    pub fn bands(&self) -> &[Band] {
        &self.bands
    }

    /// Decides `_agent_ready_threshold_passed` for a 1-based queue position and an ETA in
    /// seconds (`None`: not known).
    pub fn decide(&self, eta: Option<u64>, position: usize) -> ThresholdDecision {
        let Some(eta) = eta else {
            return ThresholdDecision {
                passed: true,
                reason: "eta n/a".into(),
            };
        };
        if position <= 1 {
            return ThresholdDecision {
                passed: true,
                reason: "position 1".into(),
            };
        }
        // An ETA below the first band counts in the first band.
        let index = self
            .bands
            .iter()
            .rposition(|b| b.eta_from <= eta)
            .unwrap_or(0);
        let band = self.bands[index];
        let eta_clause = match self.bands.get(index + 1) {
            Some(next) => format!("eta <= {}", next.eta_from - 1),
            None => format!("eta >= {}", band.eta_from),
        };
        let passed = (position as u64) < band.max_position;
        let reason = if passed {
            format!("{eta_clause} and position <= {}", band.max_position - 1)
        } else if band.max_position <= 1 {
            format!("{eta_clause}: only position 1 passes (position {position})")
        } else {
            format!(
                "{eta_clause} needs position <= {} (position {position})",
                band.max_position - 1
            )
        };
        ThresholdDecision { passed, reason }
    }
}

impl fmt::Display for ThresholdTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.bands.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", b.eta_from, b.max_position)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_and_custom_tables() {
        let t = ThresholdTable::default();
        assert_eq!(t.bands().len(), 5);
        assert_eq!(t.to_string(), DEFAULT_ETA_POS_THRESHOLD);
        let t = ThresholdTable::parse(" 36:1 , 0:6 ").unwrap();
        assert_eq!(t.to_string(), "0:6,36:1");
        for bad in ["", "0:10,", "10", "a:1", "1:b", "0:1,0:2", "-1:3"] {
            assert!(ThresholdTable::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decisions_and_reasons() {
        let t = ThresholdTable::default();
        let d = t.decide(None, 7);
        assert_eq!((d.passed, d.reason.as_str()), (true, "eta n/a"));
        let d = t.decide(Some(500), 1);
        assert_eq!((d.passed, d.reason.as_str()), (true, "position 1"));
        let d = t.decide(Some(5), 9);
        assert_eq!(
            (d.passed, d.reason.as_str()),
            (true, "eta <= 9 and position <= 9")
        );
        let d = t.decide(Some(5), 10);
        assert!(!d.passed);
        assert_eq!(d.reason, "eta <= 9 needs position <= 9 (position 10)");
        let d = t.decide(Some(15), 4);
        assert_eq!(
            (d.passed, d.reason.as_str()),
            (true, "eta <= 19 and position <= 4")
        );
        let d = t.decide(Some(25), 2);
        assert!(!d.passed);
        let d = t.decide(Some(35), 2);
        assert_eq!(d.reason, "eta <= 39: only position 1 passes (position 2)");
        let d = t.decide(Some(40), 2);
        assert_eq!(
            (d.passed, d.reason.as_str()),
            (false, "eta >= 40: only position 1 passes (position 2)")
        );
        // The seed's example: eta 30, position 2 under a table whose band ends at 35.
        let t = ThresholdTable::parse("0:6,36:1").unwrap();
        let d = t.decide(Some(30), 2);
        assert_eq!(
            (d.passed, d.reason.as_str()),
            (true, "eta <= 35 and position <= 5")
        );
        // An ETA below the first band uses the first band.
        let t = ThresholdTable::parse("10:3").unwrap();
        assert!(t.decide(Some(2), 2).passed);
        assert!(!t.decide(Some(2), 3).passed);
    }
}
