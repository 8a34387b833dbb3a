//! Choosing which scenarios run: name filters, tags, and CI shards.

use crate::script::Scenario;
use std::str::FromStr;

/// `--shard K/N`: the K-th of N disjoint slices (1-based), by position in name order,
/// so N CI jobs together run every scenario exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub total: usize,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("invalid shard `{s}`: write K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(err)?;
        let (index, total): (usize, usize) = (
            k.trim().parse().map_err(|_| err())?,
            n.trim().parse().map_err(|_| err())?,
        );
        if index == 0 || total == 0 || index > total {
            return Err(err());
        }
        Ok(Shard { index, total })
    }
}

impl Shard {
    /// Whether the item at `position` (0-based, in name order) is this shard's.
    pub fn takes(&self, position: usize) -> bool {
        position % self.total == self.index - 1
    }
}

#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Keep scenarios whose name contains any of these (all when empty).
    pub filters: Vec<String>,
    /// Keep scenarios that carry any of these tags (all when empty).
    pub tags: Vec<String>,
    pub shard: Option<Shard>,
}

impl Selection {
    pub fn apply(&self, scenarios: Vec<Scenario>) -> Vec<Scenario> {
        let picked = scenarios.into_iter().filter(|s| {
            (self.filters.is_empty() || self.filters.iter().any(|f| s.name.contains(f.as_str())))
                && (self.tags.is_empty() || self.tags.iter().any(|t| s.meta.tags.contains(t)))
        });
        match self.shard {
            None => picked.collect(),
            Some(shard) => picked
                .enumerate()
                .filter(|(i, _)| shard.takes(*i))
                .map(|(_, s)| s)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_reject() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, total: 4 }));
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
