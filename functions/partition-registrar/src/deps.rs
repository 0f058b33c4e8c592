//! What the handler borrows: configuration, SDK clients and the warm cache, built once per
//! execution environment (in `main.rs`, the CLI, or a test).

use std::collections::{HashMap, HashSet};

use dmslake::catalog::TableDef;
use dmslake::config::{Config, ConfigError, Env, DEFAULT_STATE_PREFIX};
use tokio::sync::Mutex;

use crate::columns::CsvManifest;

/// Registrar-only settings (`DMSLAKE_CSV_COLUMNS_URI`, and where full-load manifests go:
/// `DMSLAKE_STATE_BUCKET`, `DMSLAKE_STATE_PREFIX`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `s3://bucket/key` of the JSON column manifest for CSV tables without a header row.
    pub csv_columns_uri: Option<String>,
    /// `s3://<state bucket>/<state prefix>full-load-manifests/`: the manifests naming the
    /// full-load files that lie in a table folder (see [`dmslake::catalog::partition_for`]).
    /// `None` without a state bucket.
    pub manifest_root: Option<String>,
}

/// Folder of the full-load manifests under the state prefix.
pub const MANIFEST_FOLDER: &str = "full-load-manifests/";

impl Settings {
    /// The manifest root for a state bucket and prefix.
    pub fn manifest_root_for(bucket: &str, prefix: &str) -> String {
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("s3://{bucket}/{MANIFEST_FOLDER}")
        } else {
            format!("s3://{bucket}/{prefix}/{MANIFEST_FOLDER}")
        }
    }

    /// The folder of `table`'s full-load manifests in `database`.
    pub fn manifest_folder(&self, database: &str, table: &str) -> Option<String> {
        self.manifest_root
            .as_ref()
            .map(|root| dmslake::catalog::manifest_folder(&format!("{root}{database}"), table))
    }
}

impl Settings {
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Env::new(get))
    }

    /// Reads the registrar's settings through the shared reader (trimmed; blank means unset).
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        let csv_columns_uri = env.parse_with(
            "DMSLAKE_CSV_COLUMNS_URI",
            "an s3://bucket/key URL of a JSON column manifest",
            |v| {
                let ok = dmslake::s3::parse_url(v).is_ok_and(|(_, key)| !key.is_empty());
                ok.then(|| v.to_string())
            },
        )?;
        let state_bucket = env.parse_with(
            "DMSLAKE_STATE_BUCKET",
            "an S3 bucket name (lower-case letters, digits, '-' and '.')",
            |b| {
                let ok = b.len() <= 63
                    && b.bytes().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.'
                    });
                ok.then(|| b.to_string())
            },
        )?;
        let manifest_root = state_bucket.map(|bucket| {
            Self::manifest_root_for(
                &bucket,
                &env.or("DMSLAKE_STATE_PREFIX", DEFAULT_STATE_PREFIX),
            )
        });
        Ok(Self {
            csv_columns_uri,
            manifest_root,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Env::process())
    }
}

/// Upper bound on remembered keys (a long-lived warm environment must not grow forever).
const MAX_KNOWN_FILES: usize = 200_000;

/// What this execution environment already knows about the catalog.
#[derive(Debug, Default)]
pub struct Known {
    pub database_ready: bool,
    pub tables: HashMap<String, TableDef>,
    /// When each cached table was created (Glue `CreateTime`, seconds and nanoseconds): a
    /// table dropped and created again is another table.
    pub created: HashMap<String, Option<(i64, u32)>>,
    pub partitions: HashSet<(String, Vec<String>)>,
    /// `bucket/key` of data files fully registered (or skipped) already.
    files: HashSet<String>,
    pub csv_manifest: Option<CsvManifest>,
}

impl Known {
    pub fn knows_file(&self, bucket: &str, key: &str) -> bool {
        self.files.contains(&file_id(bucket, key))
    }

    pub fn remember_file(&mut self, bucket: &str, key: &str) {
        if self.files.len() >= MAX_KNOWN_FILES {
            self.files.clear();
        }
        self.files.insert(file_id(bucket, key));
    }

    pub fn knows_partition(&self, table: &str, values: &[String]) -> bool {
        self.partitions
            .contains(&(table.to_string(), values.to_vec()))
    }

    /// Forgets a table and its partitions (it was dropped, or changed under us).
    pub fn forget_table(&mut self, table: &str) {
        self.tables.remove(table);
        self.created.remove(table);
        self.partitions.retain(|(t, _)| t != table);
    }
}

fn file_id(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// Everything the handler borrows: built once per execution environment in `main.rs`.
pub struct Deps {
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    pub config: Config,
    pub settings: Settings,
    pub(crate) known: Mutex<Known>,
}

impl Deps {
    pub fn new(
        s3: aws_sdk_s3::Client,
        glue: aws_sdk_glue::Client,
        config: Config,
        settings: Settings,
    ) -> Self {
        Self {
            s3,
            glue,
            config,
            settings,
            known: Mutex::new(Known::default()),
        }
    }

    /// Configuration and clients from the environment (the Lambda's cold start, the CLI).
    pub async fn from_env() -> Result<Self, ConfigError> {
        let env = Env::process();
        let config = Config::read(&env)?;
        let settings = Settings::read(&env)?;
        let sdk = dmslake::clients::load_sdk_config().await;
        Ok(Self::new(
            dmslake::clients::s3_client(&sdk),
            aws_sdk_glue::Client::new(&sdk),
            config,
            settings,
        ))
    }

    /// Forgets everything cached (a cold start, for tests and benchmarks).
    pub async fn forget(&self) {
        *self.known.lock().await = Known::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmslake::config::lookup;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_lookup(&lookup(pairs))
    }

    #[test]
    fn settings_are_read_trimmed_with_blank_meaning_unset() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, Option<&'a str>);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (&[], None, None),
            (&[("DMSLAKE_CSV_COLUMNS_URI", "  "), ("DMSLAKE_STATE_BUCKET", "")], None, None),
            (&[("DMSLAKE_CSV_COLUMNS_URI", " s3://b/cols.json ")], Some("s3://b/cols.json"), None),
            (&[("DMSLAKE_STATE_BUCKET", " state ")], None,
             Some("s3://state/dmslake-state/full-load-manifests/")),
            (&[("DMSLAKE_STATE_BUCKET", "state"), ("DMSLAKE_STATE_PREFIX", " ")], None,
             Some("s3://state/dmslake-state/full-load-manifests/")),
            (&[("DMSLAKE_STATE_BUCKET", "state"), ("DMSLAKE_STATE_PREFIX", "/")], None,
             Some("s3://state/full-load-manifests/")),
            (&[("DMSLAKE_STATE_BUCKET", "state"), ("DMSLAKE_STATE_PREFIX", " ops/dmslake ")], None,
             Some("s3://state/ops/dmslake/full-load-manifests/")),
        ];
        for (pairs, csv, root) in cases {
            let got = settings(pairs).unwrap_or_else(|e| panic!("{pairs:?}: {e}"));
            assert_eq!(got.csv_columns_uri.as_deref(), *csv, "{pairs:?}");
            assert_eq!(got.manifest_root.as_deref(), *root, "{pairs:?}");
        }
    }

    #[test]
    fn bad_settings_name_the_variable_and_what_is_allowed() {
        let cases = [
            (
                "DMSLAKE_CSV_COLUMNS_URI",
                "s3://bucket-only",
                "s3://bucket/key",
            ),
            ("DMSLAKE_CSV_COLUMNS_URI", "https://b/k", "s3://bucket/key"),
            ("DMSLAKE_STATE_BUCKET", "State_Bucket", "S3 bucket name"),
        ];
        for (var, value, allowed) in cases {
            let err = settings(&[(var, value)]).expect_err(value);
            assert_eq!((err.variable.as_str(), err.value.as_str()), (var, value));
            assert!(err.to_string().contains(allowed), "{err}");
        }
    }
}
