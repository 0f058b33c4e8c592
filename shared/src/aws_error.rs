//! AWS SDK errors as short sentences: the service's error code and message, or what kept the
//! request from getting an answer. Never the `Debug` dump of the request and response (headers,
//! `SdkBody`), which says nothing more to a person and can be kilobytes long.

use std::error::Error as StdError;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::error::chain;

/// The message of a failed SDK call.
pub fn sdk_message<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => service_message(ctx.err()),
        SdkError::TimeoutError(_) => "no answer in time (the request timed out)".to_string(),
        SdkError::DispatchFailure(_) => format!(
            "the service could not be reached ({}); check the network, the region and AWS_ENDPOINT_URL",
            causes(err)
        ),
        SdkError::ResponseError(_) => format!("the answer could not be read ({})", causes(err)),
        SdkError::ConstructionFailure(_) => {
            format!("the request could not be built ({})", causes(err))
        }
        _ => chain(err),
    }
}

/// The message of a service error: `Code: message`, else whichever of the two it has.
pub fn service_message<E>(err: &E) -> String
where
    E: ProvideErrorMetadata + StdError + 'static,
{
    match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        (None, Some(message)) => message.to_string(),
        (None, None) => chain(err),
    }
}

/// The causes below an SDK error's own (generic) text.
fn causes(err: &(dyn StdError + 'static)) -> String {
    match err.source() {
        Some(source) => chain(source),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_types::error::ErrorMetadata;

    #[test]
    fn service_errors_read_code_and_message() {
        let err = GetObjectError::generic(
            ErrorMetadata::builder()
                .code("NoSuchBucket")
                .message("The specified bucket does not exist")
                .build(),
        );
        assert_eq!(
            service_message(&err),
            "NoSuchBucket: The specified bucket does not exist"
        );
        let timeout: SdkError<GetObjectError, ()> =
            SdkError::timeout_error(std::io::Error::other("deadline"));
        assert_eq!(
            sdk_message(&timeout),
            "no answer in time (the request timed out)"
        );
    }
}
