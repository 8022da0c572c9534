//! Splitting a batch of subtitle files across machines: `--shard i/n`.
//!
//! Shard `i` of `n` (0 ≤ i < n) takes the files whose position in the batch
//! list is `i` modulo `n`. The split depends only on the list, so every
//! machine of a Slurm array (`SLURM_ARRAY_TASK_ID`) or a Kubernetes indexed
//! Job (`JOB_COMPLETION_INDEX`) given the same list agrees on it, and each
//! file is done by exactly one shard.

/// One shard of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard's index, from 0.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Parses `i/n`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("shard `{s}` is not of the form i/n"))?;
        let index: usize = i.trim().parse().map_err(|_| format!("shard index `{i}` is not a number"))?;
        let count: usize = n.trim().parse().map_err(|_| format!("shard count `{n}` is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {index}/{count}: the index must be below the count (0-based)"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// The items of `list` that belong to this shard, in list order.
    pub fn select<T: Clone>(&self, list: &[T]) -> Vec<T> {
        list.iter().enumerate().filter(|(k, _)| k % self.count == self.index).map(|(_, t)| t.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_list() {
        let list: Vec<usize> = (0..10).collect();
        let mut all: Vec<usize> = (0..3).flat_map(|i| Shard { index: i, count: 3 }.select(&list)).collect();
        all.sort();
        assert_eq!(all, list);
        assert_eq!("1/3".parse::<Shard>().unwrap().select(&list), vec![1, 4, 7]);
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
