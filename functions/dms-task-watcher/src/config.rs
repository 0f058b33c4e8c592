//! The watcher's configuration, read once at cold start from the `DMSLAKE_*` environment.

use dmslake::config::{parse_bool, ConfigError, LayoutConfig};
use dmslake::dms_events::ResourceKind;
use dmslake::state::StateLocation;

pub const DEFAULT_RESTART_LIMIT: u32 = 3;
pub const DEFAULT_RESTART_WINDOW_MINUTES: i64 = 60;
pub const DEFAULT_STALE_AFTER_MINUTES: i64 = 30;
pub const DEFAULT_EVENT_BUS: &str = "default";
pub const DEFAULT_STATE_PREFIX: &str = "dmslake-state/";

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
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let layout = LayoutConfig::from_lookup(get)?;
        let required = |var: &str, what: &str| -> Result<String, ConfigError> {
            get(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ConfigError::new(var, "", what))
        };
        let watched_raw = required(
            "DMSLAKE_WATCHED_TASKS",
            "a comma-separated list of DMS task or replication-config ARNs",
        )?;
        let mut watched = Vec::new();
        for arn in watched_raw
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match ResourceKind::of_arn(arn) {
                Some(ResourceKind::Task | ResourceKind::ReplicationConfig) => {
                    watched.push(arn.to_string())
                }
                _ => {
                    return Err(ConfigError::new(
                        "DMSLAKE_WATCHED_TASKS",
                        arn,
                        "arn:aws:dms:<region>:<account>:task:<id> or ...:replication-config:<id>",
                    ))
                }
            }
        }
        let alert_topic_arn = required("DMSLAKE_ALERT_TOPIC_ARN", "an SNS topic ARN")?;
        if !alert_topic_arn.starts_with("arn:") {
            return Err(ConfigError::new(
                "DMSLAKE_ALERT_TOPIC_ARN",
                &alert_topic_arn,
                "an SNS topic ARN",
            ));
        }
        let auto_resume = match get("DMSLAKE_AUTO_RESUME") {
            None => false,
            Some(v) => parse_bool("DMSLAKE_AUTO_RESUME", &v)?,
        };
        let number = |var: &str, default: i64, min: i64| -> Result<i64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= min && *n <= 100_000)
                    .ok_or_else(|| {
                        ConfigError::new(var, &v, format!("an integer from {min} to 100000"))
                    }),
            }
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
        let event_bus = get("DMSLAKE_EVENT_BUS")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_EVENT_BUS.to_string());
        let data_bucket = get("DMSLAKE_DATA_BUCKET")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        let state_bucket = required("DMSLAKE_STATE_BUCKET", "the S3 bucket for state documents")?;
        let state_prefix =
            get("DMSLAKE_STATE_PREFIX").unwrap_or_else(|| DEFAULT_STATE_PREFIX.to_string());
        Ok(Self {
            watched,
            alert_topic_arn,
            policy: Policy {
                auto_resume,
                restart_limit: u32::try_from(restart_limit).unwrap_or(u32::MAX),
                restart_window: chrono::Duration::minutes(window),
                stale_after: chrono::Duration::minutes(stale),
            },
            event_bus,
            data_bucket,
            layout,
            state: StateLocation::new(state_bucket, &state_prefix),
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
}
