//! One pager for the three ways vendors page a list:
//!
//! - **offset**: Data Center's `start`/`limit` answered with `isLastPage` and
//!   `nextPageStart`; SCIM's 1-based `startIndex`/`count` answered with `totalResults`;
//! - **next link**: an absolute URL to the next page, absent on the last (Bitbucket
//!   Cloud's `next`, Microsoft Graph's `@odata.nextLink`);
//! - **cursor**: an opaque position passed back with the next request (GraphQL's
//!   `pageInfo { endCursor hasNextPage }`).
//!
//! The provider fetches a page and reads it into a [`Page`] with the constructor of its
//! style; the pager follows pages until the last, and refuses paging that does not move
//! forward (an offset that does not grow, a link or cursor seen before), since a list cut
//! short or read twice would plan creates and deletes that are wrong.
//!
//! When the first page gives the total (SCIM's `totalResults`), the other pages' offsets
//! are known, and they are fetched at once rather than one after another (10,000 people
//! at 100 a page and 50 ms a request: 0.5 s instead of 5). Should a page then serve fewer
//! than the first did, or the list end elsewhere than announced, the pages from there on
//! are read again one after another, as the server serves them.

use std::collections::HashSet;
use std::future::Future;

use futures_util::stream::{self, StreamExt};

use super::client::HttpClient;
use super::error::HttpError;

/// The target of a `Link` header's `rel="next"` entry (RFC 8288: `<URI>; rel="next"`,
/// several links separated by commas, `rel` a space-separated list, quoted or not), as
/// Okta pages: `Link: <https://x.okta.com/api/v1/users?after=00u1&limit=200>; rel="next"`.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |n| close + n);
        let params = &rest[close + 1..params_end];
        let is_next = params.split(';').any(|p| {
            let Some((key, value)) = p.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(target.trim().to_owned());
        }
        rest = &rest[params_end..];
    }
    None
}

/// One page of a list, and where the next one is.
#[derive(Debug)]
pub struct Page<T> {
    items: Vec<T>,
    next: Next,
    /// How many items the whole list has, when the server says.
    total: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
enum Next {
    End,
    Offset(u64),
    Link(String),
    Cursor(String),
    /// The server says there is more but not where: paging cannot go on.
    Broken(String),
}

impl<T> Page<T> {
    /// Data Center: the page's `values`, `isLastPage`, and `nextPageStart`.
    pub fn start_limit(items: Vec<T>, is_last_page: bool, next_page_start: Option<u64>) -> Page<T> {
        let next = match (is_last_page, next_page_start) {
            (true, _) => Next::End,
            (false, Some(start)) => Next::Offset(start),
            (false, None) => Next::Broken("isLastPage is false without a nextPageStart".to_owned()),
        };
        Page {
            items,
            next,
            total: None,
        }
    }

    /// SCIM: the page asked for at `start_index` (1-based) and what it served of
    /// `total_results`. The next page starts after what was served, which may be fewer
    /// than asked for (RFC 7644 §3.4.2.4); without a total, an empty page is the end.
    pub fn start_index(start_index: u64, items: Vec<T>, total_results: Option<u64>) -> Page<T> {
        let served = items.len() as u64;
        let before = start_index.saturating_sub(1);
        let next = match total_results {
            Some(total) if before + served >= total => Next::End,
            // Fewer than announced and nothing more served: objects went missing between
            // pages (offset paging while something was deleted), and a short read would
            // plan creates of what is there.
            Some(total) if served == 0 => Next::Broken(format!(
                "the server announced {total} objects but served {before} before an empty page; read again"
            )),
            None if served == 0 => Next::End,
            _ => Next::Offset(start_index + served),
        };
        Page {
            items,
            next,
            total: total_results,
        }
    }

    /// An absolute link to the next page, absent on the last (Bitbucket Cloud's `next`).
    pub fn next_link(items: Vec<T>, next: Option<String>) -> Page<T> {
        Page {
            items,
            next: next.map_or(Next::End, Next::Link),
            total: None,
        }
    }

    /// GraphQL's `pageInfo { hasNextPage endCursor }`.
    pub fn cursor(items: Vec<T>, has_next_page: bool, end_cursor: Option<String>) -> Page<T> {
        let next = match (has_next_page, end_cursor) {
            (false, _) => Next::End,
            (true, Some(cursor)) => Next::Cursor(cursor),
            (true, None) => Next::Broken("hasNextPage is true without an endCursor".to_owned()),
        };
        Page {
            items,
            next,
            total: None,
        }
    }
}

/// Every item of an offset-paged list. `fetch` gets the offset to ask for (`first` for
/// the first page: 0 for Data Center, 1 for SCIM) and reads the answer with
/// [`Page::start_limit`] or [`Page::start_index`]. `what` names the list in errors
/// (`GET /rest/api/latest/admin/users`).
pub async fn by_offset<T, F, Fut>(http: &HttpClient, what: &str, first: u64, mut fetch: F) -> Result<Vec<T>, HttpError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Page<T>, HttpError>>,
{
    let page = fetch(first).await?;
    let served = page.items.len() as u64;
    let (total, next) = (page.total, &page.next);
    let mut out = page.items;
    let at = match (total, next) {
        (_, Next::End) => return Ok(out),
        (Some(total), Next::Offset(next)) if served > 0 && *next == first + served => {
            // Every other page, a window of them in flight, taken in order while each is
            // what the first promised. Offsets are made as the window moves, so a total
            // the server overstates costs at most one window of requests.
            let offsets = (1u64..)
                .map_while(|k| k.checked_mul(served).and_then(|d| first.checked_add(d)))
                .take_while(|o| o - first < total);
            let mut pages = stream::iter(offsets.map(|offset| {
                let page = fetch(offset);
                async move { (offset, page.await) }
            }))
            .buffered(http.max_in_flight());
            let mut resume = None;
            while let Some((offset, page)) = pages.next().await {
                let page = page?;
                let last = offset.saturating_add(served) - first >= total;
                let expected = if last {
                    Next::End
                } else {
                    Next::Offset(offset.saturating_add(served))
                };
                let whole = page.items.len() as u64 == served.min(total - (offset - first));
                if page.next != expected || !whole || page.total != Some(total) {
                    resume = Some(offset);
                    break;
                }
                out.extend(page.items);
            }
            drop(pages);
            match resume {
                None => return Ok(out),
                Some(offset) => offset,
            }
        }
        (_, Next::Offset(next)) if *next > first => *next,
        (_, Next::Offset(next)) => {
            return Err(stuck(
                http,
                what,
                format!("the next page starts at {next}, not after {first}"),
            ))
        }
        _ => return Err(stuck(http, what, style(page.next, "an offset"))),
    };
    one_by_one(http, what, at, out, fetch).await
}

/// The rest of an offset-paged list from `at`, each page asked for after the last.
async fn one_by_one<T, F, Fut>(
    http: &HttpClient,
    what: &str,
    mut at: u64,
    mut out: Vec<T>,
    mut fetch: F,
) -> Result<Vec<T>, HttpError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<Page<T>, HttpError>>,
{
    loop {
        let page = fetch(at).await?;
        out.extend(page.items);
        at = match page.next {
            Next::End => return Ok(out),
            Next::Offset(next) if next > at => next,
            Next::Offset(next) => {
                return Err(stuck(
                    http,
                    what,
                    format!("the next page starts at {next}, not after {at}"),
                ))
            }
            other => return Err(stuck(http, what, style(other, "an offset"))),
        };
    }
}

/// Every item of a list paged by absolute links. `fetch` gets `None` for the first page
/// and then each link (send it with [`Request::link`](super::Request::link), which keeps
/// it on the target's origin), and reads the answer with [`Page::next_link`].
pub async fn by_link<T, F, Fut>(http: &HttpClient, what: &str, fetch: F) -> Result<Vec<T>, HttpError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, HttpError>>,
{
    by_token(http, what, fetch, |next| match next {
        Next::Link(link) => Ok(link),
        other => Err(style(other, "a link")),
    })
    .await
}

/// Every item of a cursor-paged list. `fetch` gets `None` for the first page and then
/// each cursor (GraphQL's `after:`), and reads the answer with [`Page::cursor`].
pub async fn by_cursor<T, F, Fut>(http: &HttpClient, what: &str, fetch: F) -> Result<Vec<T>, HttpError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, HttpError>>,
{
    by_token(http, what, fetch, |next| match next {
        Next::Cursor(cursor) => Ok(cursor),
        other => Err(style(other, "a cursor")),
    })
    .await
}

/// Links and cursors alike: follow each token the server gives, never one seen before.
async fn by_token<T, F, Fut>(
    http: &HttpClient,
    what: &str,
    mut fetch: F,
    token: fn(Next) -> Result<String, String>,
) -> Result<Vec<T>, HttpError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Page<T>, HttpError>>,
{
    let mut at = None;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    loop {
        let page = fetch(at.take()).await?;
        out.extend(page.items);
        if page.next == Next::End {
            return Ok(out);
        }
        let next = token(page.next).map_err(|why| stuck(http, what, why))?;
        if !seen.insert(next.clone()) {
            return Err(stuck(http, what, format!("it sent `{next}` as the next page twice")));
        }
        at = Some(next);
    }
}

/// What a page of the wrong style, or a broken one, says.
fn style(next: Next, expected: &str) -> String {
    match next {
        Next::Broken(why) => why,
        Next::End => "the list ended".to_owned(),
        Next::Offset(n) => format!("it gave an offset ({n}) where {expected} was expected"),
        Next::Link(_) => format!("it gave a link where {expected} was expected"),
        Next::Cursor(_) => format!("it gave a cursor where {expected} was expected"),
    }
}

fn stuck(http: &HttpClient, what: &str, why: String) -> HttpError {
    http.bad_answer(what, format!("the server's paging did not advance ({why})"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_link_is_found_among_others() {
        use super::next_link;
        let okta = r#"<https://x.okta.com/api/v1/users?limit=2>; rel="self", <https://x.okta.com/api/v1/users?after=00u2&limit=2>; rel="next""#;
        assert_eq!(
            next_link(okta).as_deref(),
            Some("https://x.okta.com/api/v1/users?after=00u2&limit=2")
        );
        assert_eq!(next_link(r#"<https://a/b>; rel="self""#), None);
        assert_eq!(next_link("<https://a/c>;rel=next").as_deref(), Some("https://a/c"));
        assert_eq!(
            next_link(r#"<https://a/d>; title="x"; rel="prev next""#).as_deref(),
            Some("https://a/d")
        );
        assert_eq!(next_link("garbage <unclosed"), None);
    }

    use std::cell::RefCell;

    use super::*;

    fn client() -> HttpClient {
        HttpClient::builder("t", url::Url::parse("http://127.0.0.1:1").unwrap())
            .build()
            .unwrap()
    }

    /// A list of `n` numbers served `per_page` at a time.
    fn items(from: u64, n: u64) -> Vec<u64> {
        (from..from + n).collect()
    }

    #[tokio::test]
    async fn offset_paging_the_data_center_way() {
        let http = client();
        let asked = RefCell::new(Vec::new());
        let all = by_offset(&http, "GET /users", 0, |start| {
            asked.borrow_mut().push(start);
            async move {
                let end = (start + 3).min(7);
                Ok(Page::start_limit(
                    items(start, end - start),
                    end == 7,
                    (end < 7).then_some(end),
                ))
            }
        })
        .await
        .unwrap();
        assert_eq!(all, items(0, 7));
        assert_eq!(*asked.borrow(), [0, 3, 6]);
    }

    #[tokio::test]
    async fn offset_paging_the_scim_way_advances_by_what_was_served() {
        let http = client();
        let asked = RefCell::new(Vec::new());
        // The server serves at most 2 a page, whatever was asked for, of 5.
        let all = by_offset(&http, "GET /Users", 1, |start| {
            asked.borrow_mut().push(start);
            async move {
                let served = 2.min(6 - start);
                Ok(Page::start_index(start, items(start, served), Some(5)))
            }
        })
        .await
        .unwrap();
        assert_eq!(all, items(1, 5));
        assert_eq!(*asked.borrow(), [1, 3, 5]);
        // No total: an empty page ends the list.
        let all = by_offset(&http, "GET /Users", 1, |start| async move {
            Ok(Page::start_index(
                start,
                if start < 4 { items(start, 3) } else { vec![] },
                None,
            ))
        })
        .await
        .unwrap();
        assert_eq!(all, items(1, 3));
    }

    /// With the total known from the first page, the others are asked for at once (as
    /// many as the client has places for, 8 here): nine pages of 50 ms take two round
    /// trips, not nine.
    #[tokio::test(start_paused = true)]
    async fn pages_after_the_first_are_fetched_at_once_when_the_total_is_known() {
        let http = client();
        let start = tokio::time::Instant::now();
        let all = by_offset(&http, "GET /Users", 1, |at| async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let served = 10.min(91 - at);
            Ok(Page::start_index(at, items(at, served), Some(90)))
        })
        .await
        .unwrap();
        assert_eq!(all, items(1, 90));
        assert_eq!(start.elapsed(), std::time::Duration::from_millis(100));
    }

    /// A page that serves fewer than the first (a server whose page size changed, or an
    /// object deleted meanwhile) sends the reader back to one page after another from
    /// there, so nothing is skipped.
    #[tokio::test]
    async fn a_short_page_among_those_fetched_at_once_is_read_again_one_by_one() {
        let http = client();
        let asked = RefCell::new(Vec::new());
        let all = by_offset(&http, "GET /Users", 1, |at| {
            asked.borrow_mut().push(at);
            async move {
                // 3 a page at first; from item 4 on, 2 a page.
                let served = if at < 4 { 3 } else { 2 }.min(10 - at);
                Ok(Page::start_index(at, items(at, served), Some(9)))
            }
        })
        .await
        .unwrap();
        assert_eq!(all, items(1, 9));
        assert_eq!(*asked.borrow(), [1, 4, 7, 4, 6, 8]);
    }

    /// A total far above what the server holds costs one window of requests (the
    /// client's 8 places), not a request per page it announced.
    #[tokio::test]
    async fn an_overstated_total_costs_at_most_one_window_of_requests() {
        let http = client();
        let asked = RefCell::new(Vec::new());
        let all = by_offset(&http, "GET /Users", 1, |at| {
            asked.borrow_mut().push(at);
            async move {
                let served = if at < 4 { 3 } else { 0 };
                Ok(Page::start_index(at, items(at, served), Some(u64::MAX)))
            }
        })
        .await;
        let e = all.unwrap_err();
        assert!(e.to_string().contains("announced"), "{e}");
        // The first page, a window of 8 from offset 4, then offset 4 one by one.
        assert_eq!(asked.borrow().len(), 1 + 8 + 1, "{:?}", asked.borrow());
    }

    #[tokio::test]
    async fn offset_paging_that_does_not_advance_is_an_error() {
        let http = client();
        let e = by_offset(&http, "GET /rest/api/latest/admin/users", 0, |start| async move {
            Ok(Page::start_limit(items(start, 2), false, Some(start)))
        })
        .await
        .unwrap_err();
        assert_eq!(e.kind, super::super::ErrorKind::BadAnswer);
        assert_eq!(
            e.to_string(),
            "t: GET /rest/api/latest/admin/users failed: the server's paging did not advance (the next page starts at 0, not after 0)"
        );
        let e = by_offset(&http, "GET /users", 0, |start| async move {
            Ok(Page::start_limit(items(start, 2), false, None))
        })
        .await
        .unwrap_err();
        assert!(e.detail.contains("isLastPage is false without a nextPageStart"), "{e}");
        let e = by_offset(&http, "GET /Users", 1, |start| async move {
            Ok(Page::start_index(
                start,
                if start == 1 { items(1, 2) } else { vec![] },
                Some(5),
            ))
        })
        .await
        .unwrap_err();
        assert!(
            e.detail
                .contains("announced 5 objects but served 2 before an empty page"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn next_links_are_followed_to_the_last_page() {
        let http = client();
        let asked = RefCell::new(Vec::new());
        let all = by_link(&http, "GET /2.0/workspaces/w/members", |link| {
            asked.borrow_mut().push(link.clone());
            async move {
                Ok(match link.as_deref() {
                    None => Page::next_link(items(0, 2), Some("https://api/2.0/m?page=2".to_owned())),
                    Some("https://api/2.0/m?page=2") => {
                        Page::next_link(items(2, 2), Some("https://api/2.0/m?page=3".to_owned()))
                    }
                    _ => Page::next_link(items(4, 1), None),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(all, items(0, 5));
        assert_eq!(
            *asked.borrow(),
            [
                None,
                Some("https://api/2.0/m?page=2".to_owned()),
                Some("https://api/2.0/m?page=3".to_owned())
            ]
        );
        // A server that links back to a page already read would loop forever.
        let e = by_link(&http, "GET /m", |_| async {
            Ok(Page::next_link(
                items(0, 1),
                Some("https://api/2.0/m?page=2".to_owned()),
            ))
        })
        .await
        .unwrap_err();
        assert!(e.detail.contains("as the next page twice"), "{e}");
    }

    #[tokio::test]
    async fn cursors_are_passed_back_until_there_is_no_next_page() {
        let http = client();
        let asked = RefCell::new(Vec::new());
        let all = by_cursor(&http, "POST /graphql", |after| {
            asked.borrow_mut().push(after.clone());
            async move {
                Ok(match after.as_deref() {
                    None => Page::cursor(items(0, 3), true, Some("Y3Vyc29yOjM=".to_owned())),
                    Some("Y3Vyc29yOjM=") => Page::cursor(items(3, 3), true, Some("Y3Vyc29yOjY=".to_owned())),
                    // The last page may still carry a cursor; hasNextPage decides.
                    _ => Page::cursor(items(6, 1), false, Some("Y3Vyc29yOjc=".to_owned())),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(all, items(0, 7));
        assert_eq!(asked.borrow().len(), 3);
        let e = by_cursor(&http, "POST /graphql", |_| async {
            Ok(Page::cursor(items(0, 1), true, None))
        })
        .await
        .unwrap_err();
        assert!(e.detail.contains("hasNextPage is true without an endCursor"), "{e}");
        let e = by_cursor(&http, "POST /graphql", |_| async {
            Ok(Page::<u64>::next_link(vec![], Some("https://elsewhere".to_owned())))
        })
        .await
        .unwrap_err();
        assert!(e.detail.contains("a link where a cursor was expected"), "{e}");
    }

    #[tokio::test]
    async fn a_failed_page_fails_the_list() {
        let http = client();
        let e = by_cursor(&http, "POST /graphql", |after| {
            let http = &http;
            async move {
                match after {
                    None => Ok(Page::cursor(items(0, 1), true, Some("c".to_owned()))),
                    Some(_) => Err(http.bad_answer("POST /graphql", "page two")),
                }
            }
        })
        .await
        .unwrap_err();
        assert_eq!(e.detail, "page two");
    }
}
