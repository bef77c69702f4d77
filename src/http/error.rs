//! What a failed request says: the target, `METHOD /path?query`, the status and the
//! vendor's message (scrubbed of the token), what kind of failure it was, and whether
//! the server may have acted on it.

use std::time::Duration;

/// Why a request failed, for callers that act on it rather than show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server answered with a failure status (`status` says which).
    Status,
    /// A 2xx answer that the client's classifier reads as a failure (GraphQL's
    /// `{"errors": […]}` on HTTP 200), with the vendor's message.
    Rejected,
    /// No answer: the connection could not be made or broke, or the attempt timed out,
    /// as often as the retry policy allows.
    Transport,
    /// A request that is not safe to send twice was sent and no answer came back (the
    /// connection dropped after sending, the attempt timed out, a gateway answered 502 or
    /// 504): it may have been applied. It was not sent again; the caller reads back.
    MayHaveBeenApplied,
    /// The server asks for a wait longer than the client's policy allows (`Retry-After`,
    /// a used-up quota's reset).
    Throttled,
    /// The answer is larger than the client reads.
    TooLarge,
    /// The operation's deadline passed.
    Deadline,
    /// A 2xx answer that cannot be understood: not the JSON expected, or paging that does
    /// not advance.
    BadAnswer,
    /// The request could not be made at all: the client could not be set up, or a link
    /// points away from the target.
    Setup,
}

/// A failed request. `request` is `METHOD /path?query` without the host and with secret
/// query parameters (a new user's password) masked; the vendor's message is scrubbed of
/// the token.
///
/// # Retried requests and `ambiguous`
///
/// `send` may have made several attempts (`attempts`) before this error. `ambiguous` is
/// true when at least one of them may have been applied by the server although no answer
/// came back: the request was sent and then the connection dropped, the answer was cut
/// off, the attempt timed out, or a gateway answered 502 or 504. A refused connection, a
/// 429 and a 503 are not ambiguous: nothing was applied.
///
/// A request that is not safe to send twice stops at the first such outcome: `kind` is
/// then [`ErrorKind::MayHaveBeenApplied`] and the caller finds out by reading back. A
/// request that is safe to send twice is retried, so when the final answer is a definite
/// status (`Some(409)`, `Some(404)`, …) and `ambiguous` is true, the uncertain attempt was
/// an earlier one and the status may be the consequence of it:
///
/// - a **409 on a create** means the object may already be there because of this very
///   request: read it back and compare before calling the change failed;
/// - a **404 on a delete** means the object is already gone, probably by this request.
///
/// When `ambiguous` is false the status is the server's answer to the only request that
/// could have had an effect, and means what it says.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{target}: {request} failed: {detail}")]
pub struct HttpError {
    pub target: String,
    pub request: String,
    pub kind: ErrorKind,
    pub status: Option<u16>,
    pub detail: String,
    /// An attempt of this request may have been applied without the client seeing the
    /// answer (see the type's documentation for what a status then means).
    pub ambiguous: bool,
    /// HTTP requests sent for this call, retries included (0 when none was sent).
    pub attempts: u32,
}

impl HttpError {
    pub fn is_status(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    /// A write that is not safe to repeat got no answer: it was not sent again, and only
    /// reading back tells whether it was applied.
    pub fn may_have_been_applied(&self) -> bool {
        self.kind == ErrorKind::MayHaveBeenApplied
    }
}

/// A wait or a limit as people read it: milliseconds under a second, whole minutes from
/// two minutes on when they are whole, else whole seconds rounded up.
pub(super) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d >= Duration::from_secs(120) && d.as_secs() % 60 == 0 && d.subsec_nanos() == 0 {
        format!("{} min", d.as_secs() / 60)
    } else {
        format!("{} s", d.as_secs() + u64::from(d.subsec_nanos() > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(Duration::from_secs(60)), "60 s");
        assert_eq!(human(Duration::from_millis(1_001)), "2 s");
        assert_eq!(human(Duration::from_secs(900)), "15 min");
        assert_eq!(human(Duration::from_secs(3_601)), "3601 s");
    }
}
