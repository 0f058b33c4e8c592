//! Errors printed to a person: the error and each of its sources, as one sentence chain.

use std::error::Error;

/// `error: source: source's source ...`: the whole chain, each message once.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let text = source.to_string();
        // A wrapper that already prints its source (`#[error(transparent)]`, or `{source}` in
        // its message) would repeat it.
        if !text.is_empty() && !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = source.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading s3://b/k failed")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("the connection was reset")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Repeats(#[source] Inner);

    #[test]
    fn the_chain_names_every_source_once() {
        assert_eq!(
            chain(&Outer(Inner)),
            "reading s3://b/k failed: the connection was reset"
        );
        assert_eq!(chain(&Repeats(Inner)), "outer: the connection was reset");
    }
}
