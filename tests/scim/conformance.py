"""Runs scim2-tester against a SCIM server and prints one line per check.

Usage: python conformance.py BASE_URL TOKEN [EXCLUDED_TAG ...]
Prints `STATUS<TAB>title<TAB>resource type<TAB>reason` lines; exits 0 only when no
check errored.
"""

import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server
from scim2_tester.utils import get_registered_tags


def main() -> int:
    base_url, token, *excluded = sys.argv[1:]
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    scim = SyncSCIMClient(http)
    # `exclude_tags` also drops the discovery checks tagged "*" (scim2-tester 0.5.2 matches
    # "*" against any filter), and without discovery no resource is checked at all. So the
    # excluded tags are taken out of the registered ones and the rest are included: "*"
    # checks always run under `include_tags`.
    include = get_registered_tags() - set(excluded) if excluded else None
    results = check_server(scim, include_tags=include)
    failed = 0
    for result in results:
        status = result.status.name
        if result.status == Status.ERROR:
            failed += 1
        reason = (result.reason or "").replace("\n", " ")
        print(f"{status}\t{result.title}\t{result.resource_type or ''}\t{reason}")
    print(f"TOTAL\t{len(results)}\tERRORS\t{failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
