//! What a run needs, built once per execution environment.

use dmslake::athena::Runner;
use dmslake::state::StateStore;

use crate::config::CompactorConfig;

/// Everything a run needs, built once in `main`.
pub struct Deps {
    pub config: CompactorConfig,
    pub glue: aws_sdk_glue::Client,
    pub runner: Runner,
    pub state: StateStore,
}
