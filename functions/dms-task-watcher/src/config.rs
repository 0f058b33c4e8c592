//! The watcher's configuration, read once at cold start from the `DMSLAKE_*` environment.

use dmslake::config::{ConfigError, Env, LayoutConfig};
use dmslake::dms_events::ResourceKind;
use dmslake::state::StateLocation;

pub const DEFAULT_RESTART_LIMIT: u32 = 3;
pub const DEFAULT_RESTART_WINDOW_MINUTES: i64 = 60;
pub const DEFAULT_STALE_AFTER_MINUTES: i64 = 30;
pub const DEFAULT_EVENT_BUS: &str = "default";
pub use dmslake::config::DEFAULT_STATE_PREFIX;

/// The restart policy and thresholds the pure decision function needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `DMSLAKE_AUTO_RESUME`: resume a failed task with `resume-processing`.
    pub auto_resume: bool,
    /// `DMSLAKE_RESTART_LIMIT`: at most this many automatic restarts within the window.
    pub restart_limit: u32,
    /// `DMSLAKE_RESTART_WINDOW_MINUTES`.
    pub restart_window: chrono::Duration,
    /// `DMSLAKE_STALE_AFTER_MINUTES`: a running task with no new file for longer is flagged.
    pub stale_after: chrono::Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            auto_resume: false,
            restart_limit: DEFAULT_RESTART_LIMIT,
            restart_window: chrono::Duration::minutes(DEFAULT_RESTART_WINDOW_MINUTES),
            stale_after: chrono::Duration::minutes(DEFAULT_STALE_AFTER_MINUTES),
        }
    }
}

/// Everything the watcher reads from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatcherConfig {
    /// `DMSLAKE_WATCHED_TASKS`: task ARNs and DMS Serverless replication-config ARNs.
    pub watched: Vec<String>,
    /// `DMSLAKE_ALERT_TOPIC_ARN`.
    pub alert_topic_arn: String,
    pub policy: Policy,
    /// `DMSLAKE_EVENT_BUS`: where the baseline request is put.
    pub event_bus: String,
    /// `DMSLAKE_DATA_BUCKET`: the bucket DMS writes to (freshness check); optional.
    pub data_bucket: Option<String>,
    /// Where DMS writes (`BucketFolder`, date partitioning, `CdcPath`: the common layout
    /// settings); bounds the freshness check's listing.
    pub layout: LayoutConfig,
    /// `DMSLAKE_STATE_BUCKET` / `DMSLAKE_STATE_PREFIX`.
    pub state: StateLocation,
}

impl WatcherConfig {
    /// True when `arn` is one of the watched tasks or replication configs.
    pub fn watches(&self, arn: &str) -> bool {
        self.watched.iter().any(|w| w == arn)
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(&Env::process())
    }

    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Env::new(get))
    }

    /// Reads the watcher's settings through the shared reader (trimmed; blank means unset).
    pub fn read(env: &Env) -> Result<Self, ConfigError> {
        const WATCHED: &str = "DMSLAKE_WATCHED_TASKS";
        let watched = env.list(WATCHED);
        if watched.is_empty() {
            return Err(ConfigError::missing(
                WATCHED,
                "a comma-separated list of DMS task or replication-config ARNs",
            ));
        }
        if let Some(bad) = watched.iter().find(|arn| {
            !matches!(
                ResourceKind::of_arn(arn),
                Some(ResourceKind::Task | ResourceKind::ReplicationConfig)
            )
        }) {
            return Err(ConfigError::new(
                WATCHED,
                bad,
                "arn:aws:dms:<region>:<account>:task:<id> or ...:replication-config:<id>",
            ));
        }
        let alert_topic_arn = env
            .parse_with("DMSLAKE_ALERT_TOPIC_ARN", "an SNS topic ARN", |v| {
                v.starts_with("arn:").then(|| v.to_string())
            })?
            .ok_or_else(|| ConfigError::missing("DMSLAKE_ALERT_TOPIC_ARN", "an SNS topic ARN"))?;
        let number = |var: &str, default: i64, min: i64| -> Result<i64, ConfigError> {
            let n = env.parse_with(var, format!("an integer from {min} to 100000"), |v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| (min..=100_000).contains(n))
            })?;
            Ok(n.unwrap_or(default))
        };
        let restart_limit = number("DMSLAKE_RESTART_LIMIT", DEFAULT_RESTART_LIMIT.into(), 0)?;
        let window = number(
            "DMSLAKE_RESTART_WINDOW_MINUTES",
            DEFAULT_RESTART_WINDOW_MINUTES,
            1,
        )?;
        let stale = number(
            "DMSLAKE_STALE_AFTER_MINUTES",
            DEFAULT_STALE_AFTER_MINUTES,
            1,
        )?;
        let state_bucket =
            env.required("DMSLAKE_STATE_BUCKET", "the S3 bucket for state documents")?;
        Ok(Self {
            watched,
            alert_topic_arn,
            policy: Policy {
                auto_resume: env.bool("DMSLAKE_AUTO_RESUME", false)?,
                restart_limit: u32::try_from(restart_limit).unwrap_or(u32::MAX),
                restart_window: chrono::Duration::minutes(window),
                stale_after: chrono::Duration::minutes(stale),
            },
            event_bus: env.or("DMSLAKE_EVENT_BUS", DEFAULT_EVENT_BUS),
            data_bucket: env.optional("DMSLAKE_DATA_BUCKET"),
            layout: LayoutConfig::read(env)?,
            state: StateLocation::new(
                state_bucket,
                &env.or("DMSLAKE_STATE_PREFIX", DEFAULT_STATE_PREFIX),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dmslake::config::lookup;

    const BASE: &[(&str, &str)] = &[
        (
            "DMSLAKE_WATCHED_TASKS",
            "arn:aws:dms:us-east-1:123456789012:task:A, arn:aws:dms:us-east-1:123456789012:replication-config:B",
        ),
        ("DMSLAKE_ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("DMSLAKE_STATE_BUCKET", "state"),
    ];

    #[test]
    fn defaults_follow_the_environment_contract() {
        let cfg = WatcherConfig::from_lookup(&lookup(BASE)).expect("valid");
        assert_eq!(cfg.watched.len(), 2);
        assert!(cfg.watches("arn:aws:dms:us-east-1:123456789012:task:A"));
        assert!(!cfg.policy.auto_resume);
        assert_eq!(cfg.policy.restart_limit, 3);
        assert_eq!(cfg.policy.restart_window, chrono::Duration::minutes(60));
        assert_eq!(cfg.policy.stale_after, chrono::Duration::minutes(30));
        assert_eq!(cfg.event_bus, "default");
        assert_eq!(cfg.state.key("x"), "dmslake-state/x");
    }

    #[test]
    fn auto_resume_accepts_the_shared_boolean_words() {
        for (value, want) in [
            ("true", true),
            ("YES", true),
            ("1", true),
            ("no", false),
            ("0", false),
            ("", false),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push(("DMSLAKE_AUTO_RESUME", value));
            let cfg = WatcherConfig::from_lookup(&lookup(&pairs)).expect(value);
            assert_eq!(cfg.policy.auto_resume, want, "{value:?}");
        }
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            (
                "DMSLAKE_WATCHED_TASKS",
                "arn:aws:dms:us-east-1:1:endpoint:E",
            ),
            ("DMSLAKE_WATCHED_TASKS", ""),
            ("DMSLAKE_AUTO_RESUME", "maybe"),
            ("DMSLAKE_RESTART_LIMIT", "-1"),
            ("DMSLAKE_RESTART_WINDOW_MINUTES", "0"),
            ("DMSLAKE_STALE_AFTER_MINUTES", "soon"),
            ("DMSLAKE_ALERT_TOPIC_ARN", "alerts"),
        ];
        for (var, value) in cases {
            let mut pairs: Vec<(&str, &str)> =
                BASE.iter().filter(|(k, _)| k != var).copied().collect();
            pairs.push((var, value));
            let err = WatcherConfig::from_lookup(&lookup(&pairs)).expect_err(var);
            assert_eq!(err.variable, *var);
        }
    }

    #[test]
    fn values_are_trimmed_and_blank_ones_take_their_default() {
        let mut pairs = vec![
            (
                "DMSLAKE_WATCHED_TASKS",
                " arn:aws:dms:us-east-1:1:task:A ,, arn:aws:dms:us-east-1:1:task:B ,",
            ),
            (
                "DMSLAKE_ALERT_TOPIC_ARN",
                " arn:aws:sns:us-east-1:1:alerts\n",
            ),
            ("DMSLAKE_STATE_BUCKET", " state "),
        ];
        for var in [
            "DMSLAKE_AUTO_RESUME",
            "DMSLAKE_RESTART_LIMIT",
            "DMSLAKE_RESTART_WINDOW_MINUTES",
            "DMSLAKE_STALE_AFTER_MINUTES",
            "DMSLAKE_EVENT_BUS",
            "DMSLAKE_DATA_BUCKET",
            "DMSLAKE_STATE_PREFIX",
        ] {
            pairs.push((var, "  "));
        }
        let cfg = WatcherConfig::from_lookup(&lookup(&pairs)).expect("valid");
        let defaults = WatcherConfig::from_lookup(&lookup(BASE)).expect("valid");
        assert_eq!(
            cfg.watched,
            [
                "arn:aws:dms:us-east-1:1:task:A",
                "arn:aws:dms:us-east-1:1:task:B"
            ]
        );
        assert_eq!(cfg.alert_topic_arn, "arn:aws:sns:us-east-1:1:alerts");
        assert_eq!(cfg.policy, defaults.policy);
        assert_eq!(cfg.event_bus, DEFAULT_EVENT_BUS);
        assert_eq!(cfg.data_bucket, None);
        assert_eq!(cfg.state.key("x"), "dmslake-state/x");

        // Numbers are trimmed too; `/` puts the state documents at the bucket's root.
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("DMSLAKE_RESTART_LIMIT", " 5 "),
            ("DMSLAKE_STATE_PREFIX", "/"),
            ("DMSLAKE_DATA_BUCKET", " lake "),
        ]);
        let cfg = WatcherConfig::from_lookup(&lookup(&pairs)).expect("valid");
        assert_eq!(cfg.policy.restart_limit, 5);
        assert_eq!(cfg.state.key("x"), "x");
        assert_eq!(cfg.data_bucket.as_deref(), Some("lake"));
    }

    #[test]
    fn required_variables_that_are_blank_are_reported_as_not_set() {
        for var in [
            "DMSLAKE_WATCHED_TASKS",
            "DMSLAKE_ALERT_TOPIC_ARN",
            "DMSLAKE_STATE_BUCKET",
        ] {
            for value in [
                None,
                Some(" "),
                Some(" , ").filter(|_| var == "DMSLAKE_WATCHED_TASKS"),
            ] {
                let mut pairs: Vec<(&str, &str)> =
                    BASE.iter().filter(|(k, _)| *k != var).copied().collect();
                if let Some(v) = value {
                    pairs.push((var, v));
                }
                let err = WatcherConfig::from_lookup(&lookup(&pairs)).expect_err(var);
                assert_eq!(err.variable, var);
                assert!(
                    err.to_string().starts_with(&format!("{var} is not set")),
                    "{err}"
                );
            }
        }
    }
}
