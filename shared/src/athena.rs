//! Athena query runner: start in a workgroup, poll with backoff, respect the deadline.
