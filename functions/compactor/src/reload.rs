//! Table reloads: noticing a full load newer than the one a curated table was built from, and
//! deciding when to rebuild from it (pure; the listing is in [`crate::load_files`]).
//!
//! DMS writes a new full load of a table when the table is reloaded (`ReloadTables`, or the
//! task restarted with `reload-target`; CHAP_Tasks.ReloadTables.md). Its `LOAD` files land in
//! the table folder, or in a date folder (CHAP_Target.S3.md does not say which with date
//! partitioning on, so both are read). Whether the hexadecimal counter starts again (and so
//! overwrites `LOAD00000001`) or goes on is not documented either, so both are recognised: the
//! watermark records every full-load file's key and ETag, and a listed file whose key is new
//! or whose ETag changed belongs to a newer full load.
//!
//! DMS sends no event when a table's full load is complete (CHAP_Events.md lists none), and a
//! full load is written file by file. So a rebuild waits until two runs in a row list the same
//! new files: the first run records them as pending and leaves the table as it is; the next
//! rebuilds when nothing was added or rewritten since, else waits again.

use dmslake::config::LayoutConfig;
use dmslake::layout::{self, DataKind};
use dmslake::sql::ReloadSource;
use serde::{Deserialize, Serialize};

/// One full-load file as S3 lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadFile {
    pub key: String,
    pub etag: String,
    /// RFC 3339 time S3 gives as the object's last modification.
    pub modified: String,
}

/// What the listed full-load files mean for a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadCheck {
    /// No file is new: merge as usual.
    Same,
    /// Nothing was recorded yet (a watermark written before full loads were recorded): record
    /// them, merge as usual.
    FirstSeen,
    /// These files are new or rewritten since the recorded full load, and the previous run did
    /// not list exactly them: the full load may still be writing. Record them as pending; the
    /// table is not merged this run.
    Pending(Vec<LoadFile>),
    /// These files are new or rewritten since the recorded full load, and the previous run
    /// listed the same: rebuild from them.
    Reloaded(Vec<LoadFile>),
}

/// Compares the listed full-load files with the recorded ones and the previous run's pending
/// ones (pure).
pub fn check(
    recorded: Option<&[LoadFile]>,
    pending: Option<&[LoadFile]>,
    listed: &[LoadFile],
) -> LoadCheck {
    let Some(recorded) = recorded else {
        return LoadCheck::FirstSeen;
    };
    let new: Vec<LoadFile> = listed
        .iter()
        .filter(|f| !recorded.iter().any(|r| r.key == f.key && r.etag == f.etag))
        .cloned()
        .collect();
    if new.is_empty() {
        return LoadCheck::Same;
    }
    let same_as = |seen: &[LoadFile]| {
        seen.len() == new.len()
            && new
                .iter()
                .all(|f| seen.iter().any(|s| s.key == f.key && s.etag == f.etag))
    };
    if pending.is_some_and(same_as) {
        LoadCheck::Reloaded(new)
    } else {
        LoadCheck::Pending(new)
    }
}

/// The recorded full-load files directly in the table folder `table_prefix` that are no longer
/// listed there (pure): DMS removed them (a truncate "removes all files and corresponding table
/// folders", CHAP_Target.S3.md, limitations) or someone deleted them. Files in date folders
/// are left out: their folders are only listed while a merge reads them, and nothing but the
/// folder names them.
pub fn removed(
    recorded: Option<&[LoadFile]>,
    listed: &[LoadFile],
    table_prefix: &str,
) -> Vec<LoadFile> {
    let folder = format!("{}/", table_prefix.trim_end_matches('/'));
    recorded
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.key
                .strip_prefix(&folder)
                .is_some_and(|name| !name.contains('/'))
        })
        .filter(|r| !listed.iter().any(|l| l.key == r.key))
        .cloned()
        .collect()
}

/// The manifests (`s3://` URLs, in the full-load partition's manifest folder `manifests`)
/// that name the `removed` files of `bucket`, as the registrar wrote them
/// ([`dmslake::catalog::manifest_entry`]); keys that are not DMS data files name none (pure).
pub fn manifests_of(
    bucket: &str,
    removed: &[LoadFile],
    manifests: &str,
    layout: &LayoutConfig,
) -> Vec<String> {
    removed
        .iter()
        .filter_map(|f| {
            let class = layout::classify(&f.key, layout);
            let obj = class.data()?;
            Some(dmslake::catalog::manifest_entry(bucket, obj, manifests).url)
        })
        .collect()
}

/// What [`dmslake::sql::CompactionTable::rebuild_sql`] reads for the new files in `bucket`:
/// their `s3://` paths, and the earliest write time among them as the latest possible start of
/// the reload (pure). `None` when no time parses.
pub fn source(bucket: &str, new: &[LoadFile]) -> Option<ReloadSource> {
    let earliest = new
        .iter()
        .filter_map(|f| chrono::DateTime::parse_from_rfc3339(&f.modified).ok())
        .min()?;
    Some(ReloadSource {
        files: new
            .iter()
            .map(|f| format!("s3://{bucket}/{}", f.key))
            .collect(),
        written_after: earliest
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S%.6f")
            .to_string(),
    })
}

/// Whether `key` is a full-load file (`LOAD...`, `SEGMENTn_LOAD...`, in the table folder or a
/// date folder) as the registrar classifies DMS's keys ([`layout::classify`]).
pub fn is_full_load(key: &str, layout: &LayoutConfig) -> bool {
    layout::classify(key, layout)
        .data()
        .is_some_and(|o| o.kind == DataKind::FullLoad)
}

/// The folders (`prefix` ending in `/`, under the table folder `table_prefix`) where full-load
/// files of a reload may lie: the table folder, and with date partitioning the date folder of
/// each raw partition in `partitions` (values in partition-key order, as Glue holds them). The
/// all-zero full-load partition has no date folder of its own (its files are in the table
/// folder); values that are not a date are left out (pure).
pub fn load_folders(
    table_prefix: &str,
    partitions: &[Vec<String>],
    layout: &LayoutConfig,
) -> Vec<String> {
    let table_prefix = format!("{}/", table_prefix.trim_end_matches('/'));
    let parts = layout::partition_columns(layout);
    let mut out = vec![table_prefix.clone()];
    if parts.is_empty() {
        return out;
    }
    for values in partitions {
        let Some(at) = partition_time(&parts, values) else {
            continue;
        };
        let folder = layout::date_folder(
            layout.date_partition_sequence,
            layout.date_partition_delimiter,
            at,
        );
        let prefix = format!("{table_prefix}{folder}/");
        if !out.contains(&prefix) {
            out.push(prefix);
        }
    }
    out
}

/// The time a date partition starts at, from its values in the order of `parts`; `None` for
/// the all-zero full-load partition or anything that is not a date.
fn partition_time(
    parts: &[dmslake::config::DatePart],
    values: &[String],
) -> Option<chrono::DateTime<chrono::Utc>> {
    use dmslake::config::DatePart;
    if parts.len() != values.len() {
        return None;
    }
    let (mut year, mut month, mut day, mut hour) = (None, 1, 1, 0);
    for (part, value) in parts.iter().zip(values) {
        let n: u32 = value.parse().ok()?;
        match part {
            DatePart::Year => year = Some(i32::try_from(n).ok()?),
            DatePart::Month => month = n,
            DatePart::Day => day = n,
            DatePart::Hour => hour = n,
        }
    }
    chrono::NaiveDate::from_ymd_opt(year?, month, day)?
        .and_hms_opt(hour, 0, 0)
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmslake::config::{DatePartitionDelimiter, DatePartitionSequence};

    fn f(key: &str, etag: &str, modified: &str) -> LoadFile {
        LoadFile {
            key: key.into(),
            etag: etag.into(),
            modified: modified.into(),
        }
    }

    fn layout(dates: bool, sequence: DatePartitionSequence) -> LayoutConfig {
        LayoutConfig {
            bucket_folder: "dms".into(),
            date_partition_enabled: dates,
            date_partition_sequence: sequence,
            date_partition_delimiter: DatePartitionDelimiter::Slash,
            cdc_path: None,
        }
    }

    #[test]
    fn a_new_or_rewritten_load_file_is_a_reload_once_two_runs_list_it_alike() {
        let t0 = "2026-11-29T01:00:00Z";
        let t1 = "2026-11-29T02:00:00.5Z";
        let first = vec![
            f("p/LOAD00000001.csv", "a", t0),
            f("p/LOAD00000002.csv", "b", t0),
        ];
        let restarted = f("p/LOAD00000001.csv", "c", t1);
        let went_on = f("p/LOAD00000003.csv", "d", t1);
        let more = f("p/LOAD00000004.csv", "e", t1);
        /// Recorded, pending, listed, expected.
        type Case<'a> = (
            Option<&'a [LoadFile]>,
            Option<&'a [LoadFile]>,
            Vec<LoadFile>,
            LoadCheck,
        );
        let restart_list = vec![restarted.clone(), first[1].clone()];
        let on_list = [first.clone(), vec![went_on.clone()]].concat();
        let pending_on = [went_on.clone()];
        let pending_restart = [restarted.clone()];
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            (None, None, first.clone(), LoadCheck::FirstSeen),
            (Some(&first), None, first.clone(), LoadCheck::Same),
            // Counter starts again: LOAD00000001 rewritten (new ETag), 2 left from before.
            (Some(&first), None, restart_list.clone(), LoadCheck::Pending(vec![restarted.clone()])),
            (Some(&first), Some(&pending_restart), restart_list, LoadCheck::Reloaded(vec![restarted.clone()])),
            // Counter goes on: the old files stay, new ones follow.
            (Some(&first), None, on_list.clone(), LoadCheck::Pending(vec![went_on.clone()])),
            (Some(&first), Some(&pending_on), on_list.clone(), LoadCheck::Reloaded(vec![went_on.clone()])),
            // The full load went on writing since the last run: wait again.
            (Some(&first), Some(&pending_on), [on_list.clone(), vec![more.clone()]].concat(),
             LoadCheck::Pending(vec![went_on.clone(), more.clone()])),
            // A pending file rewritten since the last run: wait again.
            (Some(&first), Some(&pending_on), [first.clone(), vec![f("p/LOAD00000003.csv", "x", t1)]].concat(),
             LoadCheck::Pending(vec![f("p/LOAD00000003.csv", "x", t1)])),
            // Files removed (a truncate removes the table folder): nothing to rebuild from.
            (Some(&first), None, vec![], LoadCheck::Same),
            (Some(&first), Some(&pending_on), vec![], LoadCheck::Same),
        ];
        for (recorded, pending, listed, want) in cases {
            assert_eq!(
                check(recorded, pending, &listed),
                want,
                "{recorded:?} / {pending:?} / {listed:?}"
            );
        }
    }

    #[test]
    fn files_gone_from_the_table_folder_are_removed_and_their_manifests_named() {
        let t = "2026-11-29T01:00:00Z";
        let recorded = vec![
            f("dms/public/t/LOAD00000001.csv", "a", t),
            f("dms/public/t/LOAD00000002.csv", "b", t),
            f("dms/public/t/2026/11/28/LOAD00000003.csv", "c", t),
        ];
        /// Recorded, listed, removed.
        type Case<'a> = (Option<&'a [LoadFile]>, Vec<LoadFile>, Vec<LoadFile>);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            (None, vec![], vec![]),
            (Some(&recorded), recorded.clone(), vec![]),
            // A truncate: every file gone; the date folder's file is not the folder's to judge.
            (Some(&recorded), vec![], recorded[..2].to_vec()),
            // Rewritten (another ETag) is not removed.
            (Some(&recorded), vec![f("dms/public/t/LOAD00000001.csv", "x", t)], recorded[1..2].to_vec()),
        ];
        for (rec, listed, want) in cases {
            assert_eq!(removed(rec, &listed, "dms/public/t"), want, "{listed:?}");
        }
        let l = layout(true, DatePartitionSequence::Yyyymmdd);
        let gone = [
            f("dms/public/t/LOAD00000001.csv", "a", t),
            f("dms/public/t/not-dms.txt", "z", t),
        ];
        assert_eq!(
            manifests_of("lake", &gone, "s3://state/m/raw/public_t/", &l),
            vec!["s3://state/m/raw/public_t/LOAD00000001.csv".to_string()]
        );
    }

    #[test]
    fn the_reload_source_names_each_file_and_the_earliest_write() {
        let new = vec![
            f(
                "dms/public/t/LOAD00000003.csv",
                "d",
                "2026-11-29T02:00:01.25Z",
            ),
            f(
                "dms/public/t/LOAD00000004.csv",
                "e",
                "2026-11-29T02:00:00.5Z",
            ),
        ];
        let s = source("bucket", &new).expect("source");
        assert_eq!(
            s.files,
            vec![
                "s3://bucket/dms/public/t/LOAD00000003.csv",
                "s3://bucket/dms/public/t/LOAD00000004.csv"
            ]
        );
        assert_eq!(s.written_after, "2026-11-29 02:00:00.500000");
        assert_eq!(source("bucket", &[f("k", "e", "yesterday")]), None);
    }

    #[test]
    fn only_full_load_files_count_in_the_table_folder_and_in_date_folders() {
        let l = layout(true, DatePartitionSequence::Yyyymmdd);
        for (key, want) in [
            ("dms/public/t/LOAD00000001.csv", true),
            ("dms/public/t/LOAD0000000A.parquet", true),
            ("dms/public/t/LOAD00000001.csv.gz", true),
            ("dms/public/t/SEGMENT2_LOAD0000000F.csv", true),
            ("dms/public/t/2026/11/29/LOAD00000001.csv", true),
            ("dms/public/t/LOADER.csv", false),
            ("dms/public/t/LOAD.csv", false),
            ("dms/public/t/SEGMENT_LOAD00000001.csv", false),
            ("dms/public/t/2026/11/29/20261129-030000123.csv", false),
        ] {
            assert_eq!(is_full_load(key, &l), want, "{key}");
        }
    }

    #[test]
    fn load_folders_are_the_table_folder_and_the_date_folders_of_the_range() {
        let v = |values: &[&str]| values.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let days = vec![
            v(&["0000", "00", "00"]),
            v(&["2026", "11", "28"]),
            v(&["2026", "11", "29"]),
        ];
        /// Layout, partition values in the range, expected folders.
        type Case<'a> = (LayoutConfig, Vec<Vec<String>>, Vec<&'a str>);
        #[rustfmt::skip]
        let cases: Vec<Case> = vec![
            (layout(false, DatePartitionSequence::Yyyymmdd), vec![], vec!["dms/public/t/"]),
            (layout(true, DatePartitionSequence::Yyyymmdd), days,
             vec!["dms/public/t/", "dms/public/t/2026/11/28/", "dms/public/t/2026/11/29/"]),
            (layout(true, DatePartitionSequence::Ddmmyyyy), vec![v(&["2026", "11", "29"])],
             vec!["dms/public/t/", "dms/public/t/29/11/2026/"]),
            (layout(true, DatePartitionSequence::Yyyymmddhh), vec![v(&["2026", "11", "29", "07"])],
             vec!["dms/public/t/", "dms/public/t/2026/11/29/07/"]),
            (layout(true, DatePartitionSequence::Yyyymm), vec![v(&["2026", "11"])],
             vec!["dms/public/t/", "dms/public/t/2026/11/"]),
            // Not a date: left out.
            (layout(true, DatePartitionSequence::Yyyymmdd), vec![v(&["2026", "13", "01"]), v(&["x", "1", "1"])],
             vec!["dms/public/t/"]),
        ];
        for (l, partitions, want) in cases {
            assert_eq!(
                load_folders("dms/public/t", &partitions, &l),
                want,
                "{l:?} {partitions:?}"
            );
        }
    }
}
