//! A fixed-size bitset of states, indexed by [`StateId`]: the configuration and the scratch
//! sets of the algorithm (exit set, entry set, ...). Iteration is in document order.

use crate::model::StateId;

/// A set of states as a bitset over their indices: the configuration that
/// [`crate::datamodel::EvalContext`] shows to a datamodel, and the algorithm's working sets.
///
/// Operations index the bitset directly: a state beyond the capacity the set was made with
/// panics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateSet {
    words: Vec<u64>,
}

impl StateSet {
    /// An empty set able to hold states `0..capacity`.
    pub fn with_capacity(capacity: usize) -> StateSet {
        StateSet {
            words: vec![0; capacity.div_ceil(64)],
        }
    }

    /// True when `s` is a member.
    #[inline]
    pub fn contains(&self, s: StateId) -> bool {
        let s = s as usize;
        self.words[s >> 6] & (1u64 << (s & 63)) != 0
    }

    /// Adds `s`; returns true when it was not there.
    #[inline]
    pub fn insert(&mut self, s: StateId) -> bool {
        let s = s as usize;
        let bit = 1u64 << (s & 63);
        let w = &mut self.words[s >> 6];
        let new = *w & bit == 0;
        *w |= bit;
        new
    }

    /// Removes `s` (nothing happens when it is not a member).
    #[inline]
    pub fn remove(&mut self, s: StateId) {
        let s = s as usize;
        self.words[s >> 6] &= !(1u64 << (s & 63));
    }

    /// Removes every member, keeping the capacity.
    pub fn clear(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// True when the set has no member.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &StateSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Adds the members of `other` that lie in `start..end`, a word at a time.
    pub fn union_range(&mut self, other: &StateSet, start: StateId, end: StateId) {
        let (start, end) = (start as usize, end as usize);
        if start >= end {
            return;
        }
        let (first, last) = (start >> 6, (end - 1) >> 6);
        for wi in first..=last {
            let mut mask = u64::MAX;
            if wi == first {
                mask &= u64::MAX << (start & 63);
            }
            if wi == last {
                mask &= u64::MAX >> (63 - ((end - 1) & 63));
            }
            self.words[wi] |= other.words[wi] & mask;
        }
    }

    /// True when the two sets share a member.
    pub fn intersects(&self, other: &StateSet) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// True when any member lies in `start..end`.
    pub fn any_in_range(&self, start: StateId, end: StateId) -> bool {
        self.iter_range(start, end).next().is_some()
    }

    /// Members in `start..end`, ascending.
    pub fn iter_range(&self, start: StateId, end: StateId) -> RangeIter<'_> {
        RangeIter {
            words: &self.words,
            next: start as usize,
            end: end as usize,
        }
    }

    /// All members, ascending (document order).
    pub fn iter(&self) -> RangeIter<'_> {
        self.iter_range(0, (self.words.len() * 64) as StateId)
    }
}

/// Ascending iterator over the members of a [`StateSet`] within a range.
pub struct RangeIter<'a> {
    words: &'a [u64],
    next: usize,
    end: usize,
}

impl Iterator for RangeIter<'_> {
    type Item = StateId;

    #[inline]
    fn next(&mut self) -> Option<StateId> {
        while self.next < self.end {
            let wi = self.next >> 6;
            let word = self.words[wi] >> (self.next & 63);
            if word == 0 {
                self.next = (wi + 1) << 6;
                continue;
            }
            let found = self.next + word.trailing_zeros() as usize;
            if found >= self.end {
                self.next = self.end;
                return None;
            }
            self.next = found + 1;
            return Some(found as StateId);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::StateSet;

    #[test]
    fn insert_remove_iterate() {
        let mut s = StateSet::with_capacity(200);
        for x in [3, 64, 65, 130, 199] {
            assert!(s.insert(x));
        }
        assert!(!s.insert(64));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 64, 65, 130, 199]);
        assert_eq!(s.iter_range(4, 131).collect::<Vec<_>>(), vec![64, 65, 130]);
        assert!(s.any_in_range(100, 131));
        assert!(!s.any_in_range(131, 199));
        let mut r = StateSet::with_capacity(200);
        r.union_range(&s, 4, 131);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![64, 65, 130]);
        r.union_range(&s, 0, 200);
        assert_eq!(r.iter().collect::<Vec<_>>(), vec![3, 64, 65, 130, 199]);
        let mut q = StateSet::with_capacity(200);
        q.union_range(&s, 64, 65);
        assert_eq!(q.iter().collect::<Vec<_>>(), vec![64]);
        s.remove(65);
        assert!(!s.contains(65));
        assert_eq!(s.len(), 4);
        s.clear();
        assert!(s.is_empty());
    }
}
