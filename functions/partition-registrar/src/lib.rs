//! Handler logic (wiring lives in `main.rs`).

pub mod handler;
