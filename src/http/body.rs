//! Reading an answer's body as it streams in, never more than a cap: a server that sends
//! a gigabyte, or never stops, costs the cap and not the gigabyte, and the error names
//! the limit.

use reqwest::Response;

/// The largest answer read unless the provider says otherwise: far above any page a
/// vendor serves, far below what would strain memory.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;

/// How much of a failure's body is read for its message.
pub(super) const ERROR_BODY_CAP: usize = 64 * 1024;

/// Why a body could not be read whole.
pub(super) enum BodyError {
    /// Longer than the cap; the rest was left unread.
    TooLarge,
    /// The connection failed before the end.
    Cut(reqwest::Error),
}

/// The whole body, or `TooLarge` as soon as it passes `cap` (at once when its
/// `Content-Length` says it will).
pub(super) async fn read_whole(response: &mut Response, cap: usize) -> Result<String, BodyError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(BodyError::TooLarge);
    }
    match read_capped(response, cap).await {
        Ok((_, true)) => Err(BodyError::TooLarge),
        Ok((body, false)) => Ok(String::from_utf8_lossy(&body).into_owned()),
        Err(e) => Err(BodyError::Cut(e)),
    }
}

/// The first `cap` bytes of a body, the rest left unread: enough for a message.
pub(super) async fn read_start(response: &mut Response, cap: usize) -> Result<String, reqwest::Error> {
    let (body, _) = read_capped(response, cap).await?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// Reads at most `cap` bytes as they arrive; `true` when there was more.
async fn read_capped(response: &mut Response, cap: usize) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > cap {
            body.extend_from_slice(&chunk[..cap - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// A size as people read it: whole MiB or KiB when it is one, else bytes.
pub(super) fn size(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if n >= MIB && n % MIB == 0 {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n % KIB == 0 {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(DEFAULT_MAX_BODY), "64 MiB");
        assert_eq!(size(2048), "2 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
