//! Joining the shards of a run (`--shard I/N`, see [`crate::export::shard`]) into the output of
//! one unsharded run: [`merge`].
//!
//! Each shard's directory records, in its record's last line, which shard it is and of what run
//! (the key of the unsharded run, the SHA-256 of the model's weights and of the whole input, the
//! options and formats). `merge` checks that the directories are every shard of one run, each
//! once, each finished and intact, then reads their results back in input order (a saliency
//! shard's `saliency.json`, a faithfulness shard's per-sentence numbers) and hands them to the
//! figure kind's own writer, part by part as the unsharded run does: every file, the output
//! directory's record included, is byte for byte what the unsharded run writes.

use std::path::{Path, PathBuf};

use super::faithfulness::FaithfulnessOptions;
use super::saliency::SaliencyOptions;
use super::{make_recorded, Figure, FigureOutput, Progress};
use crate::error::{Result, ShardError};
use crate::export::shard::{finished_report, order};
use crate::export::{Existing, OutputDir, ShardRecord};

/// The shards in `dirs` (any order), checked and in order, each with what its run reported.
pub fn read_shards(dirs: &[PathBuf]) -> Result<Vec<(PathBuf, ShardRecord, FigureOutput)>> {
    let mut shards = Vec::with_capacity(dirs.len());
    let mut reports = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let not_a_shard = || ShardError::NotAShard { dir: dir.clone() };
        let made: FigureOutput = serde_json::from_value(finished_report(dir)?).map_err(|_| not_a_shard())?;
        let record = made.shard.clone().ok_or_else(not_a_shard)?;
        shards.push((dir.clone(), record));
        reports.push(made);
    }
    let ordered = order(shards)?;
    Ok(ordered
        .into_iter()
        .map(|(dir, record)| {
            let k = dirs.iter().position(|d| d == &dir).expect("a directory given");
            (dir, record, reports[k].clone())
        })
        .collect())
}

/// Join the shard directories `dirs` (every shard of one run, in any order) into `out_dir`
/// (opened as `existing` says): what the unsharded run would have written and reported.
pub fn merge(
    dirs: &[PathBuf],
    out_dir: &Path,
    existing: Existing,
    progress: &mut dyn Progress,
) -> Result<FigureOutput> {
    let shards = read_shards(dirs)?;
    let (dir, record, _) = shards.first().ok_or(ShardError::Missing { missing: vec![0], count: 1 })?;
    let options = |dir: &Path| ShardError::Results {
        path: dir.join(crate::export::manifest::RECORD),
        message: format!("the options recorded are not those of a {} figure", record.kind),
    };
    let out = OutputDir::open(out_dir, existing, &record.run)?;
    let made = make_recorded(&out, || match record.kind.as_str() {
        SaliencyOptions::KIND => {
            let figure: SaliencyOptions = serde_json::from_value(record.options.clone()).map_err(|_| options(dir))?;
            figure.merge(&shards, &out, progress)
        }
        FaithfulnessOptions::KIND => {
            let figure: FaithfulnessOptions =
                serde_json::from_value(record.options.clone()).map_err(|_| options(dir))?;
            Ok(figure.merge(&shards, &out, progress)?.1)
        }
        _ => Err(ShardError::NotAShard { dir: dir.clone() }.into()),
    });
    if made.is_err() {
        out.remove_record_if_unused();
    }
    made
}
