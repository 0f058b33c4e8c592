//! DMS events as EventBridge delivers them (`source: aws.dms`).
