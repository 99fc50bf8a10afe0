"""Routes that take bodies larger than ``KURZ_MAX_BODY_BYTES``: batches, bulk actions and CSV
imports."""

import re

BATCH_ITEMS = 1000
# A batch of 1,000 links with URLs and titles of the longest allowed length, with room to spare.
BATCH_BYTES = 4 * 1024 * 1024
# 1,000 slugs of 64 characters each written as JSON escapes, with room to spare.
BULK_BYTES = 1024 * 1024
IMPORT_BYTES = 10 * 1024 * 1024
IMPORT_ROWS = 50_000

_ORG = r"/api/v1/orgs/[^/]+"
LARGE_BODIES = (
    (re.compile(_ORG + r"/links/batch"), BATCH_BYTES),
    (re.compile(_ORG + r"/links/bulk-(delete|update)"), BULK_BYTES),
    (re.compile(_ORG + r"/imports"), IMPORT_BYTES),
)
