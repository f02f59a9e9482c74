//! The target syntax of the SCXML Event I/O Processor (SCXML C.1).

/// Where a `<send>` of type SCXML goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScxmlTarget<'a> {
    /// No target: this session's external queue.
    Own,
    /// `#_internal`.
    Internal,
    /// `#_parent`.
    Parent,
    /// `#_scxml_<sessionid>`.
    Session(&'a str),
    /// `#_<invokeid>`.
    Invoked(&'a str),
}

impl<'a> ScxmlTarget<'a> {
    /// Parses a target; `None` when it is not a target the SCXML processor understands.
    pub fn parse(target: Option<&'a str>) -> Option<ScxmlTarget<'a>> {
        let Some(t) = target else {
            return Some(ScxmlTarget::Own);
        };
        let rest = t.strip_prefix("#_")?;
        Some(match rest {
            "internal" => ScxmlTarget::Internal,
            "parent" => ScxmlTarget::Parent,
            _ => match rest.strip_prefix("scxml_") {
                Some(id) if !id.is_empty() => ScxmlTarget::Session(id),
                _ if !rest.is_empty() => ScxmlTarget::Invoked(rest),
                _ => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ScxmlTarget;

    #[test]
    fn parses_targets() {
        assert_eq!(ScxmlTarget::parse(None), Some(ScxmlTarget::Own));
        assert_eq!(
            ScxmlTarget::parse(Some("#_internal")),
            Some(ScxmlTarget::Internal)
        );
        assert_eq!(
            ScxmlTarget::parse(Some("#_parent")),
            Some(ScxmlTarget::Parent)
        );
        assert_eq!(
            ScxmlTarget::parse(Some("#_scxml_abc")),
            Some(ScxmlTarget::Session("abc"))
        );
        assert_eq!(
            ScxmlTarget::parse(Some("#_child1")),
            Some(ScxmlTarget::Invoked("child1"))
        );
        assert_eq!(ScxmlTarget::parse(Some("baz")), None);
        assert_eq!(ScxmlTarget::parse(Some("#_")), None);
    }
}
