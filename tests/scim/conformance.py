"""Runs every scim2-tester check against a SCIM server and prints one line per result.

Usage: python conformance.py BASE_URL TOKEN
Prints `STATUS<TAB>check<TAB>resource type<TAB>target<TAB>detail` lines, then
`TOTAL<TAB>n`. The target names what one result of a check is about (an attribute, a
method and endpoint, a schema), so that results can be compared from run to run; the
detail is the tester's own reason, for reading only. Exits 0 when the checks ran, whatever
they found: the caller compares the results with the ones it expects.

The tester fills resources with random values (a user's `active`, whether an email is
primary), so the generator is seeded: the same server gets the same requests, and the same
results, on every run. Hash randomisation is turned off too, as set iteration order could
otherwise change the order in which random values are drawn.
"""

import os
import random
import re
import sys

SEED = 7644

if os.environ.get("PYTHONHASHSEED") != "0":
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})

from httpx2 import Client  # noqa: E402
from scim2_client.engines.httpx2 import SyncSCIMClient  # noqa: E402
from scim2_tester import check_server  # noqa: E402

# What a result is about, read from its reason where the tester writes it there. Both the
# success and the failure reasons of these checks carry it.
TARGET_PATTERNS = [
    # `*_endpoint_methods`: "POST /Schemas correctly returned 405 ..."
    re.compile(r"^((?:GET|POST|PUT|PATCH|DELETE) /\w+)"),
    # `resource_types_schema_validation`: "ResourceType 'User' schema '...' is accessible"
    re.compile(r"^ResourceType '(\w+)'"),
    # `query_resource_type_by_id`: "Successfully accessed the /ResourceTypes/User endpoint."
    re.compile(r"/ResourceTypes/(\w+) endpoint"),
    # `access_schema_by_id`: "Successfully accessed schema: urn:...", "Failed to access schema urn:...: ..."
    re.compile(r"(urn:ietf:params:scim:schemas:[\w.:]*\w)"),
]

# Checks that report two results with the same reason: `_run_attribute_checks` asks with
# `attributes` first, then with `excludedAttributes`.
BY_POSITION = {
    "object_query_with_attributes": ["attributes", "excludedAttributes"],
    "object_list_with_attributes": ["attributes", "excludedAttributes"],
}


def target(result, seen: dict) -> str:
    data = result.data
    # PATCH checks: the attribute path, in success and failure alike.
    if isinstance(data, dict) and isinstance(data.get("urn"), str):
        return data["urn"]
    positions = BY_POSITION.get(result.title)
    if positions is not None:
        key = (result.title, result.resource_type)
        index = seen.get(key, 0)
        seen[key] = index + 1
        return positions[index] if index < len(positions) else f"#{index + 1}"
    for pattern in TARGET_PATTERNS:
        match = pattern.search(result.reason or "")
        if match:
            return match.group(1)
    return ""


def main() -> int:
    base_url, token = sys.argv[1:]
    random.seed(SEED)
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    scim = SyncSCIMClient(http)
    results = check_server(scim)
    seen: dict = {}
    for result in results:
        reason = (result.reason or "").replace("\n", " ").replace("\t", " ")
        print(
            f"{result.status.name}\t{result.title}\t{result.resource_type or ''}"
            f"\t{target(result, seen)}\t{reason}"
        )
    print(f"TOTAL\t{len(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
