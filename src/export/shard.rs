//! Runs split over machines: shard `I/N` of a run takes a deterministic part of its input, writes
//! its own output directory, and records in that directory's record ([`super::manifest`]) what
//! it is a part of ([`ShardRecord`]), so that shards can be joined into the output of one
//! unsharded run, and shards of different runs are refused.
//!
//! Shards are numbered from 0 (as SLURM's `SLURM_ARRAY_TASK_ID` and Kubernetes'
//! `JOB_COMPLETION_INDEX` are). The input is cut into *parts* of a fixed size (the parts an
//! unsharded run computes one at a time, so that a shard makes exactly the batches the unsharded
//! run makes and its numbers are the same to the last bit), and shard `i` of `n` takes the parts
//! `floor(i K / n)` to `floor((i + 1) K / n)` of the `K`: contiguous, in input order, the sizes
//! of any two shards differing by at most one part. A shard may be empty.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::manifest::{finished, Finished};
use super::Format;
use crate::error::{Result, ShardError};

/// Shard `index` of `count` (`I/N`, `0 <= I < N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which shard, from 0.
    pub index: usize,
    /// How many there are.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(value: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax { value: value.to_string() };
        let (index, count) = value.trim().split_once('/').ok_or_else(syntax)?;
        let index: usize = index.trim().parse().map_err(|_| syntax())?;
        let count: usize = count.trim().parse().map_err(|_| syntax())?;
        if count == 0 {
            return Err(ShardError::NoShards { value: value.to_string() });
        }
        if index >= count {
            return Err(ShardError::IndexOutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The items this shard takes of `items`, cut into parts of `part` items (the last one
    /// shorter).
    pub fn range(&self, items: usize, part: usize) -> std::ops::Range<usize> {
        let part = part.max(1);
        let parts = items.div_ceil(part);
        let first = self.index * parts / self.count;
        let end = (self.index + 1) * parts / self.count;
        (first * part).min(items)..(end * part).min(items)
    }
}

/// What a shard's directory records about the run it is a part of (in the record's last line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Which shard.
    pub shard: Shard,
    /// The figure kind (`saliency`, `faithfulness`).
    pub kind: String,
    /// The key of the unsharded run ([`super::run_key`] of the kind, the options without the
    /// shard, and the formats): the same for every shard of one run.
    pub run: String,
    /// The SHA-256 of the whole input (every shard's, not only this shard's part).
    pub input_sha256: String,
    /// The SHA-256 of the model's weights.
    pub model_sha256: Option<String>,
    /// The options, without the shard.
    pub options: serde_json::Value,
    /// The formats asked for.
    pub formats: Vec<Format>,
}

/// The SHA-256 of an input's bytes, in hex.
pub fn input_sha256(bytes: &[u8]) -> String {
    super::manifest::sha256(bytes)
}

/// What a finished run recorded in `dir` reported (its record's last line), or why it cannot
/// be used as a shard.
pub fn finished_report(dir: &Path) -> Result<serde_json::Value> {
    match finished(dir)? {
        Finished::NoRecord => Err(ShardError::NotAShard { dir: dir.to_path_buf() }.into()),
        Finished::Incomplete => Err(ShardError::Incomplete { dir: dir.to_path_buf() }.into()),
        Finished::Changed(file) => Err(ShardError::Changed { dir: dir.to_path_buf(), file }.into()),
        Finished::Done(report) => Ok(report),
    }
}

/// Check that `shards` (each directory with its record) are every shard of one run, each once,
/// and put them in order.
pub fn order(shards: Vec<(PathBuf, ShardRecord)>) -> Result<Vec<(PathBuf, ShardRecord)>> {
    let Some((first_dir, first)) = shards.first().cloned() else {
        return Err(ShardError::Missing { missing: vec![0], count: 1 }.into());
    };
    let mut slots: Vec<Option<(PathBuf, ShardRecord)>> = vec![None; first.shard.count];
    for (dir, record) in shards {
        let differs = |what: String| ShardError::Mismatch { dir: dir.clone(), reference: first_dir.clone(), what };
        if record.kind != first.kind {
            return Err(differs(format!("one is {}, the other {}", record.kind, first.kind)).into());
        }
        if record.shard.count != first.shard.count {
            return Err(differs(format!("one is {}, the other {}", record.shard, first.shard)).into());
        }
        if record.model_sha256 != first.model_sha256 {
            return Err(differs(format!(
                "they used different model weights (SHA-256 {} and {})",
                record.model_sha256.as_deref().unwrap_or("none"),
                first.model_sha256.as_deref().unwrap_or("none")
            ))
            .into());
        }
        if record.input_sha256 != first.input_sha256 {
            return Err(differs(format!(
                "they read different inputs (SHA-256 {} and {})",
                record.input_sha256, first.input_sha256
            ))
            .into());
        }
        if record.run != first.run {
            return Err(differs("they were made with different options or formats".into()).into());
        }
        let index = record.shard.index;
        let slot = slots.get_mut(index).ok_or(ShardError::IndexOutOfRange { index, count: first.shard.count })?;
        if let Some((earlier, _)) = slot {
            return Err(ShardError::Duplicate { index, first: earlier.clone(), second: dir }.into());
        }
        *slot = Some((dir, record));
    }
    let missing: Vec<usize> = slots.iter().enumerate().filter(|(_, s)| s.is_none()).map(|(i, _)| i).collect();
    if !missing.is_empty() {
        return Err(ShardError::Missing { missing, count: first.shard.count }.into());
    }
    Ok(slots.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse_what_is_not_one() {
        assert_eq!("2/5".parse::<Shard>().unwrap(), Shard { index: 2, count: 5 });
        assert_eq!("0/1".parse::<Shard>().unwrap().to_string(), "0/1");
        assert!(matches!("3/3".parse::<Shard>(), Err(ShardError::IndexOutOfRange { index: 3, count: 3 })));
        assert!(matches!("1/0".parse::<Shard>(), Err(ShardError::NoShards { .. })));
        for bad in ["x", "1", "1/", "/3", "-1/3", "1/3/4", "a/b"] {
            assert!(matches!(bad.parse::<Shard>(), Err(ShardError::Syntax { .. })), "{bad}");
        }
    }

    #[test]
    fn shards_cover_every_item_once_in_whole_parts() {
        for items in 0..40 {
            for part in 1..6 {
                for count in 1..9 {
                    let ranges: Vec<_> = (0..count).map(|index| Shard { index, count }.range(items, part)).collect();
                    let mut next = 0;
                    for r in &ranges {
                        assert_eq!(r.start, next, "{items} items, parts of {part}, {count} shards: {ranges:?}");
                        assert!(r.start % part == 0 && (r.end % part == 0 || r.end == items));
                        next = r.end;
                    }
                    assert_eq!(next, items);
                    let parts: Vec<usize> = ranges.iter().map(|r| r.len().div_ceil(part)).collect();
                    let (min, max) = (parts.iter().min().unwrap(), parts.iter().max().unwrap());
                    assert!(max - min <= 1, "balanced: {parts:?}");
                }
            }
        }
        // 7 items in parts of 2 (2, 2, 2, 1) over 3 shards: 1, 1 and 2 parts.
        let r: Vec<_> = (0..3).map(|index| Shard { index, count: 3 }.range(7, 2)).collect();
        assert_eq!(r, [0..2, 2..4, 4..7]);
    }
}
