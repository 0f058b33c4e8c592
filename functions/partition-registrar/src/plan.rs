//! Plan (pure): what one table's new files ask of the catalog, given the table as it stands.
//!
//! No I/O and no SDK types: the files (with the columns already read), the table's current
//! definition (or none) and which partitions are already registered go in; out comes the
//! table to write (create, update, or leave), the partitions to create with the files each
//! one carries, and the files refused with their reasons. [`crate::apply`] carries it out.
//!
//! Rules (see [`dmslake::catalog`]): files are taken in the order DMS wrote them
//! ([`catalog::order_key`]), so the result does not depend on delivery order; a file whose
//! partition cannot be placed, whose table belongs to another source table or format, or
//! whose columns conflict with the table's is refused and changes nothing.

use std::collections::BTreeMap;

use dmslake::catalog::{self, CatalogError, Column, Evolution, PartitionDef, TableDef};
use dmslake::config::LayoutConfig;
use dmslake::layout::{DmsObject, FileFormat};

/// One data file whose columns are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileToAdd {
    /// Position of the object in the invocation (for the per-record outcome).
    pub index: usize,
    pub bucket: String,
    pub obj: DmsObject,
    pub columns: Vec<Column>,
    /// A CSV file that starts with a header row.
    pub csv_header: bool,
}

/// What the table needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableWrite {
    /// The table does not exist yet.
    Create,
    /// Columns were appended or the schema order moved back. `partitions_follow`: a
    /// partitioned CSV table whose columns changed, whose partitions must get the new column
    /// list too (CSV reads by position and partitions keep their own list, else Athena fails
    /// with `HIVE_PARTITION_SCHEMA_MISMATCH`).
    Update { partitions_follow: bool },
    /// The table already reads every accepted file.
    Nothing,
}

/// A partition to create and the files that need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionPlan {
    pub partition: PartitionDef,
    pub files: Vec<usize>,
}

/// The plan for one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TablePlan {
    /// The table after the plan; `None` when it does not exist and no file can create it.
    pub def: Option<TableDef>,
    pub write: TableWrite,
    /// Columns appended (for the log line).
    pub added: Vec<Column>,
    /// Partitions not yet registered, in partition-value order.
    pub partitions: Vec<PartitionPlan>,
    /// The manifest each accepted file of a manifest partition needs (written before the
    /// partition is registered; see [`catalog::partition_for`]).
    pub manifests: Vec<(usize, catalog::ManifestEntry)>,
    /// Files registered once the writes succeed.
    pub accepted: Vec<usize>,
    /// Files refused, with the reason.
    pub refused: Vec<(usize, CatalogError)>,
}

/// Plans `files` (all of one Glue table) against `current`. `registered(values)` says
/// whether a partition of this table is known to exist already.
pub fn plan_table(
    current: Option<&TableDef>,
    mut files: Vec<FileToAdd>,
    layout: &LayoutConfig,
    manifests: Option<&str>,
    registered: &dyn Fn(&[String]) -> bool,
) -> TablePlan {
    files.sort_by_cached_key(|f| (catalog::order_key(&f.obj), f.obj.key.clone()));
    let mut refused = Vec::new();
    // A file whose partition cannot be placed does not shape the table.
    let mut placed = Vec::with_capacity(files.len());
    for f in files {
        match catalog::partition_for(&f.bucket, &f.obj, layout, manifests) {
            Ok(partition) => placed.push((f, partition)),
            Err(e) => refused.push((f.index, e)),
        }
    }
    let mut def = match (current, placed.first()) {
        (Some(def), _) => def.clone(),
        (None, Some((first, _))) => match TableDef::for_object(
            &first.bucket,
            &first.obj,
            layout,
            first.columns.clone(),
            first.csv_header,
        ) {
            Ok(def) => def,
            Err(e) => {
                refused.extend(placed.iter().map(|(f, _)| (f.index, e.clone())));
                return nothing(None, refused);
            }
        },
        (None, None) => return nothing(None, refused),
    };
    let mut added = Vec::new();
    let mut order_changed = false;
    let mut accepted = Vec::new();
    let mut partitions: BTreeMap<Vec<String>, PartitionPlan> = BTreeMap::new();
    let mut entries = Vec::new();
    for (f, partition) in placed {
        if let Err(e) = def.check_owner(&f.obj) {
            refused.push((f.index, e));
            continue;
        }
        let order = catalog::order_key(&f.obj);
        match catalog::evolve(&def, &f.obj.key, &order, &f.columns) {
            Ok(evolution) => {
                match &evolution {
                    Evolution::Append(cols) => added.extend(cols.iter().cloned()),
                    Evolution::Earlier => order_changed = true,
                    Evolution::Unchanged => {}
                }
                def.apply(&evolution, &order);
                accepted.push(f.index);
                if let Some(p) = partition.as_ref().filter(|p| p.manifest) {
                    // Every file of a manifest partition needs its manifest, registered or not.
                    entries.push((
                        f.index,
                        catalog::manifest_entry(&f.bucket, &f.obj, &p.location),
                    ));
                }
                if let Some(p) = partition.filter(|p| !registered(&p.values)) {
                    partitions
                        .entry(p.values.clone())
                        .or_insert_with(|| PartitionPlan {
                            partition: p,
                            files: Vec::new(),
                        })
                        .files
                        .push(f.index);
                }
            }
            Err(conflict) => refused.push((f.index, CatalogError::Schema(conflict))),
        }
    }
    let write = match current {
        None if accepted.is_empty() => {
            return nothing(None, refused);
        }
        None => TableWrite::Create,
        Some(_) if !added.is_empty() || order_changed => TableWrite::Update {
            partitions_follow: !added.is_empty()
                && def.format == FileFormat::Csv
                && !def.partition_keys.is_empty(),
        },
        Some(_) => TableWrite::Nothing,
    };
    TablePlan {
        def: Some(def),
        write,
        added,
        partitions: partitions.into_values().collect(),
        manifests: entries,
        accepted,
        refused,
    }
}

fn nothing(def: Option<TableDef>, refused: Vec<(usize, CatalogError)>) -> TablePlan {
    TablePlan {
        def,
        write: TableWrite::Nothing,
        added: Vec::new(),
        partitions: Vec::new(),
        manifests: Vec::new(),
        accepted: Vec::new(),
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmslake::catalog::{ConflictKind, GlueType};
    use dmslake::config::{DatePartitionSequence, LayoutConfig};
    use dmslake::layout::{classify, Classification};

    fn layout(dated: bool) -> LayoutConfig {
        LayoutConfig {
            bucket_folder: "dms".into(),
            date_partition_enabled: dated,
            date_partition_sequence: DatePartitionSequence::Yyyymmdd,
            ..LayoutConfig::default()
        }
    }

    fn cols(spec: &str) -> Vec<Column> {
        spec.split(',')
            .map(|c| {
                let (name, ty) = c.split_once(' ').expect("name type");
                Column::new(name, GlueType::parse(ty).expect("type"))
            })
            .collect()
    }

    fn file(index: usize, key: &str, columns: &str, l: &LayoutConfig) -> FileToAdd {
        let Classification::Data(obj) = classify(key, l) else {
            panic!("{key} is not DMS data")
        };
        FileToAdd {
            index,
            bucket: "lake".into(),
            obj,
            columns: cols(columns),
            csv_header: false,
        }
    }

    const V1: &str = "op string,id int,name string";
    const M: &str = "s3://state/m/public_orders/";
    const V2: &str = "op string,id int,name string,email string";

    fn none(_: &[String]) -> bool {
        false
    }

    fn values(plan: &TablePlan) -> Vec<(Vec<String>, Vec<usize>)> {
        plan.partitions
            .iter()
            .map(|p| (p.partition.values.clone(), p.files.clone()))
            .collect()
    }

    /// (refused index, error kind) pairs.
    fn refused(plan: &TablePlan) -> Vec<(usize, &'static str)> {
        plan.refused
            .iter()
            .map(|(i, e)| {
                let kind = match e {
                    CatalogError::Schema(c) => match c.kind {
                        ConflictKind::TypeChanged => "type",
                        ConflictKind::Removed => "removed",
                        ConflictKind::Renamed => "renamed",
                        ConflictKind::PartitionKey => "partition key",
                    },
                    CatalogError::NameCollision { .. } => "collision",
                    CatalogError::FormatMismatch { .. } => "format",
                    CatalogError::MissingDatePartition { .. } => "no date",
                    CatalogError::NoManifestLocation { .. } => "no manifest location",
                    _ => "other",
                };
                (*i, kind)
            })
            .collect()
    }

    #[test]
    fn a_new_table_is_created_from_its_files_in_dms_order_with_each_partition_once() {
        let l = layout(true);
        let files = vec![
            file(
                0,
                "dms/public/orders/2026/11/24/20261124-100000000.parquet",
                V2,
                &l,
            ),
            file(1, "dms/public/orders/LOAD00000001.parquet", V1, &l),
            file(
                2,
                "dms/public/orders/2026/11/24/20261124-090000000.parquet",
                V1,
                &l,
            ),
            file(
                3,
                "dms/public/orders/2026/11/23/20261123-090000000.parquet",
                V1,
                &l,
            ),
        ];
        let plan = plan_table(None, files, &l, Some(M), &none);
        assert_eq!(plan.write, TableWrite::Create);
        let def = plan.def.as_ref().expect("table");
        assert_eq!(def.name, "public_orders");
        assert_eq!(def.columns, cols(V2), "the newest file's column appended");
        assert_eq!(def.schema_order, "1/2026/11/24/20261124-100000000.parquet");
        assert_eq!(plan.added, cols("email string"));
        assert_eq!(plan.accepted, [1, 3, 2, 0], "in the order DMS wrote them");
        assert_eq!(
            values(&plan),
            [
                (vec!["0000".into(), "00".into(), "00".into()], vec![1]),
                (vec!["2026".into(), "11".into(), "23".into()], vec![3]),
                (vec!["2026".into(), "11".into(), "24".into()], vec![2, 0]),
            ]
        );
        assert_eq!(plan.partitions[0].partition.location, M);
        assert!(plan.partitions[0].partition.manifest);
        assert_eq!(
            plan.manifests,
            [(
                1,
                catalog::ManifestEntry {
                    url: format!("{M}LOAD00000001.parquet"),
                    body: "s3://lake/dms/public/orders/LOAD00000001.parquet\n".into(),
                }
            )]
        );
        assert!(plan.refused.is_empty());
    }

    #[test]
    fn existing_tables_change_only_for_new_columns_or_an_earlier_schema() {
        let l = layout(false);
        let existing = |columns: &str, order: &str| {
            let mut def = plan_table(
                None,
                vec![file(0, "dms/public/orders/LOAD00000001.csv", columns, &l)],
                &l,
                Some(M),
                &none,
            )
            .def
            .expect("table");
            def.schema_order = order.into();
            def
        };
        let cdc = "dms/public/orders/20261124-100000000.csv";
        // (table columns, table order, file columns, expected write, accepted)
        let cases: &[(&str, &str, &str, TableWrite, bool)] = &[
            (V1, "0//LOAD00000001.csv", V1, TableWrite::Nothing, true),
            (
                V1,
                "0//LOAD00000001.csv",
                V2,
                TableWrite::Update {
                    partitions_follow: false,
                },
                true,
            ),
            // the table's columns came from a newer file: this older one moves the order back
            (
                V1,
                "1//20261125-000000000.csv",
                V1,
                TableWrite::Update {
                    partitions_follow: false,
                },
                true,
            ),
            // an older file with fewer columns is read as it is
            (
                V2,
                "1//20261125-000000000.csv",
                V1,
                TableWrite::Nothing,
                true,
            ),
            // a newer file without a column removes it: refused
            (V2, "0//LOAD00000001.csv", V1, TableWrite::Nothing, false),
        ];
        for (table, order, columns, write, ok) in cases {
            let def = existing(table, order);
            let plan = plan_table(
                Some(&def),
                vec![file(7, cdc, columns, &l)],
                &l,
                Some(M),
                &none,
            );
            assert_eq!(plan.write, *write, "{table} / {columns}");
            assert_eq!(plan.accepted.is_empty(), !ok, "{table} / {columns}");
            assert!(plan.partitions.is_empty(), "unpartitioned");
        }
    }

    #[test]
    fn csv_partitions_follow_an_appended_column_and_parquet_ones_do_not() {
        let l = layout(true);
        for (ext, follow) in [("csv", true), ("parquet", false)] {
            let load = format!("dms/public/orders/LOAD00000001.{ext}");
            let cdc = format!("dms/public/orders/2026/11/24/20261124-100000000.{ext}");
            let def = plan_table(None, vec![file(0, &load, V1, &l)], &l, Some(M), &none)
                .def
                .expect("table");
            let plan = plan_table(Some(&def), vec![file(1, &cdc, V2, &l)], &l, Some(M), &none);
            assert_eq!(
                plan.write,
                TableWrite::Update {
                    partitions_follow: follow
                },
                "{ext}"
            );
        }
    }

    #[test]
    fn refused_files_change_nothing_and_the_others_go_ahead() {
        let l = layout(true);
        let def = plan_table(
            None,
            vec![file(0, "dms/public/orders/LOAD00000001.parquet", V1, &l)],
            &l,
            Some(M),
            &none,
        )
        .def
        .expect("table");
        let mut other_table = file(
            1,
            "dms/public/Orders/2026/11/24/20261124-100000000.parquet",
            V1,
            &l,
        );
        other_table.obj.table = "Orders".into();
        let files = vec![
            // a type change
            file(
                2,
                "dms/public/orders/2026/11/24/20261124-110000000.parquet",
                "op string,id bigint,name string",
                &l,
            ),
            // a CDC file outside a date folder while date partitioning is on (the key read
            // under settings without date partitioning)
            file(
                3,
                "dms/public/orders/20261124-120000000.parquet",
                V2,
                &layout(false),
            ),
            // another format
            file(
                4,
                "dms/public/orders/2026/11/24/20261124-130000000.csv",
                V1,
                &l,
            ),
            other_table,
            file(
                5,
                "dms/public/orders/2026/11/24/20261124-140000000.parquet",
                V1,
                &l,
            ),
        ];
        let plan = plan_table(Some(&def), files, &l, Some(M), &none);
        let mut got = refused(&plan);
        got.sort();
        assert_eq!(
            got,
            [(1, "collision"), (2, "type"), (3, "no date"), (4, "format")]
        );
        assert_eq!(plan.accepted, [5]);
        assert_eq!(
            plan.write,
            TableWrite::Nothing,
            "the refused V2 file added nothing"
        );
        assert_eq!(
            values(&plan),
            [(vec!["2026".into(), "11".into(), "24".into()], vec![5])]
        );
    }

    #[test]
    fn registered_partitions_are_not_planned_again() {
        let l = layout(true);
        let files = vec![
            file(
                0,
                "dms/public/orders/2026/11/24/20261124-100000000.parquet",
                V1,
                &l,
            ),
            file(
                1,
                "dms/public/orders/2026/11/25/20261125-100000000.parquet",
                V1,
                &l,
            ),
        ];
        let known = |v: &[String]| v == ["2026", "11", "24"];
        let plan = plan_table(None, files, &l, Some(M), &known);
        assert_eq!(plan.accepted, [0, 1]);
        assert_eq!(
            values(&plan),
            [(vec!["2026".into(), "11".into(), "25".into()], vec![1])]
        );
    }

    #[test]
    fn no_table_is_planned_when_every_file_is_refused() {
        let l = layout(true);
        let files = vec![file(
            0,
            "dms/public/orders/20261124-120000000.parquet",
            V1,
            &layout(false),
        )];
        let plan = plan_table(None, files, &l, Some(M), &none);
        assert_eq!(plan.def, None);
        assert_eq!(plan.write, TableWrite::Nothing);
        assert_eq!(refused(&plan), [(0, "no date")]);
    }
}
