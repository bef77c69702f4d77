//! Stand-ins for the CI tools the recipes' scripts call: `buildkite-agent`, `gh api` and
//! `curl` to Bitbucket Cloud's API. Each is a bash script that keeps its state in files
//! under `$STATE`, answers only the calls the recipes make (anything else is an error,
//! exit 2) and passes JSON through real `jq`, as the tools do.

/// `buildkite-agent`: annotations, meta-data and artifacts kept in `$STATE`.
pub(super) const BUILDKITE_AGENT: &str = r#"#!/usr/bin/env bash
set -euo pipefail
case "$1 ${2:-}" in
  "annotate "*)
    shift
    context="" style=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --context) context=$2; shift ;;
        --style) style=$2; shift ;;
        *) echo "unexpected annotate argument $1" >&2; exit 2 ;;
      esac
      shift
    done
    cat > "$STATE/annotation-$context.md"
    echo "$style" > "$STATE/annotation-$context.style"
    ;;
  "meta-data set") printf '%s' "$4" > "$STATE/meta-$3" ;;
  "meta-data get") cat "$STATE/meta-$3" ;;
  "artifact download")
    [ "$4 $5 $6" = ". --step plan" ] || { echo "unexpected download $*" >&2; exit 2; }
    cp "$STATE/artifacts/$3" "$3"
    ;;
  *) echo "unexpected buildkite-agent $*" >&2; exit 2 ;;
esac
"#;

/// `gh api`, answering from `$STATE`: the pull request's comments (`comments.json`,
/// written back on POST and PATCH, as the workflow's token, `github-actions[bot]`) and
/// the pull requests of a commit (`pulls.json`), and the repository's issues
/// (`issues.json`, opened and edited as that token; comments on them appended to
/// `issue-comments.txt`). `--jq` runs real jq, as gh does.
pub(super) const GH: &str = r#"#!/usr/bin/env bash
set -euo pipefail
echo "$*" >> "$STATE/gh.log"
[ "$1" = api ] || { echo "unexpected gh $*" >&2; exit 2; }
shift
method=GET filter="" path=""
while [ $# -gt 0 ]; do
  case "$1" in
    --paginate) ;;
    --method) method=$2; shift ;;
    --jq) filter=$2; shift ;;
    --input) [ "$2" = - ] || exit 2; shift ;;
    -*) echo "unexpected gh api flag $1" >&2; exit 2 ;;
    *) path=$1 ;;
  esac
  shift
done
answer() { if [ -n "$filter" ]; then jq -r "$filter"; else cat; fi; }
comments="$STATE/comments.json"
case "$method $path" in
  "GET repos/acme/access/issues/7/comments") answer < "$comments" ;;
  "POST repos/acme/access/issues/7/comments")
    jq --slurpfile b /dev/stdin '. + [{id: (1000 + length), user: {login: "github-actions[bot]"}, body: $b[0].body}]' \
      "$comments" > "$comments.new"
    mv "$comments.new" "$comments"
    echo '{}'
    ;;
  "PATCH repos/acme/access/issues/comments/"*)
    jq --argjson id "${path##*/}" --slurpfile b /dev/stdin \
      'map(if .id == $id then .body = $b[0].body else . end)' "$comments" > "$comments.new"
    mv "$comments.new" "$comments"
    echo '{}'
    ;;
  "GET repos/acme/access/commits/"*"/pulls") answer < "$STATE/pulls.json" ;;
  "GET repos/acme/access/issues?state=open&labels=rollcall-drift&per_page=100")
    jq '[.[] | select(.state == "open" and (.labels | index("rollcall-drift")))]' "$STATE/issues.json" | answer
    ;;
  "POST repos/acme/access/issues")
    jq --slurpfile b /dev/stdin \
      '. + [$b[0] + {number: (length + 1), state: "open", user: {login: "github-actions[bot]"}}]' \
      "$STATE/issues.json" > "$STATE/issues.new"
    mv "$STATE/issues.new" "$STATE/issues.json"
    echo '{}'
    ;;
  "PATCH repos/acme/access/issues/"*)
    jq --argjson n "${path##*/}" --slurpfile b /dev/stdin 'map(if .number == $n then . + $b[0] else . end)' \
      "$STATE/issues.json" > "$STATE/issues.new"
    mv "$STATE/issues.new" "$STATE/issues.json"
    echo '{}'
    ;;
  "POST repos/acme/access/issues/"*"/comments") jq -r .body >> "$STATE/issue-comments.txt"; echo '{}' ;;
  *) echo "unexpected gh api $method $path" >&2; exit 2 ;;
esac
"#;

/// `curl` for Bitbucket Cloud's API, answering from `$STATE`: a pull request's comments
/// (`bb-comments.json`, two a page, so `next` is followed; written back on POST and PUT
/// as the token's bot account `{bot}`) and the merged pull requests (`bb-merged.json`).
pub(super) const CURL: &str = r#"#!/usr/bin/env bash
set -euo pipefail
echo "$*" >> "$STATE/curl.log"
method=GET out="" data="" url="" get=false
while [ $# -gt 0 ]; do
  case "$1" in
    -fsS) ;;
    -X) method=$2; shift ;;
    -H) [ "$2" = "Authorization: Bearer pr-token" ] || [ "$2" = "Content-Type: application/json" ] ||
          { echo "unexpected header $2" >&2; exit 2; }
        shift ;;
    -o) out=$2; shift ;;
    --data-binary) data=${2#@}; shift ;;
    -G) get=true ;;
    --data-urlencode) echo "$2" >> "$STATE/bb-query"; shift ;;
    https://*) url=$1 ;;
    *) echo "unexpected curl argument $1" >&2; exit 2 ;;
  esac
  shift
done
respond() { if [ -n "$out" ]; then cat > "$out"; else cat; fi; }
base=https://api.bitbucket.org/2.0/repositories/acme/access
comments="$STATE/bb-comments.json"
case "$method $url" in
  "GET $base/pullrequests/7/comments?pagelen=100")
    jq --arg next "$base/pullrequests/7/comments?page=2" \
      '{values: .[0:2]} + (if length > 2 then {next: $next} else {} end)' "$comments" | respond ;;
  "GET $base/pullrequests/7/comments?page=2") jq '{values: .[2:]}' "$comments" | respond ;;
  "POST $base/pullrequests/7/comments")
    jq --slurpfile b "$data" '. + [{id: (100 + length), user: {uuid: "{bot}"}, content: {raw: $b[0].content.raw}}]' \
      "$comments" > "$comments.new"
    mv "$comments.new" "$comments"
    jq '.[-1]' "$comments" | respond ;;
  "PUT $base/pullrequests/7/comments/"*)
    jq --argjson id "${url##*/}" --slurpfile b "$data" 'map(if .id == $id then .content.raw = $b[0].content.raw else . end)' \
      "$comments" > "$comments.new"
    mv "$comments.new" "$comments"
    jq --argjson id "${url##*/}" '.[] | select(.id == $id)' "$comments" | respond ;;
  "GET $base/pullrequests") [ "$get" = true ]; respond < "$STATE/bb-merged.json" ;;
  *) echo "unexpected curl $method $url" >&2; exit 2 ;;
esac
"#;
