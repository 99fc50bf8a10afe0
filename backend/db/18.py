"""Tags, countries, and CSV imports.

- ``tags``: an org's tag names (unique in any letter case within the org) and colours. A link
  keeps the ids of its tags in ``links.tag_ids``; a GIN index serves the list's tag filters
  (``&&`` for any of them, ``@>`` for all), and a rename touches the one ``tags`` row.
- ``clicks.country`` and ``click_day_countries``: the visitor's country (ISO 3166-1 alpha-2),
  resolved from the address when its batch is written; the address itself is never stored.
  '' in the roll-up stands for unknown (a key column cannot be NULL).
- ``imports``: a CSV import's file and progress. Rows are applied in chunks, each committed
  together with ``next_row``, so a restart resumes after the last committed chunk.
"""

STATEMENTS = [
    """CREATE TABLE tags (
           id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 40),
           color TEXT NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
           created_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
    "CREATE UNIQUE INDEX tags_org_name_key ON tags (org_id, lower(name))",
    "ALTER TABLE links ADD COLUMN tag_ids BIGINT[] NOT NULL DEFAULT '{}'",
    "CREATE INDEX links_tag_ids_idx ON links USING gin (tag_ids)",
    "ALTER TABLE clicks ADD COLUMN country TEXT",
    """CREATE TABLE click_day_countries (
           link_id BIGINT NOT NULL REFERENCES links (id) ON DELETE CASCADE,
           day DATE NOT NULL,
           country TEXT NOT NULL,
           clicks BIGINT NOT NULL,
           PRIMARY KEY (link_id, day, country)
       ) WITH (fillfactor = 70)""",
    """CREATE TABLE imports (
           id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           created_by UUID REFERENCES users (id) ON DELETE SET NULL,
           created_by_token UUID,
           status TEXT NOT NULL DEFAULT 'queued'
               CHECK (status IN ('queued', 'running', 'done', 'failed')),
           body BYTEA,
           total INTEGER NOT NULL DEFAULT 0,
           next_row INTEGER NOT NULL DEFAULT 1,
           created INTEGER NOT NULL DEFAULT 0,
           skipped INTEGER NOT NULL DEFAULT 0,
           failed INTEGER NOT NULL DEFAULT 0,
           errors JSONB NOT NULL DEFAULT '[]',
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           finished_at TIMESTAMPTZ
       )""",
    "CREATE INDEX imports_org_idx ON imports (org_id, created_at DESC)",
    # An import skips a row without slug whose URL the org has already (so a second import of
    # a file creates nothing); the hash keeps long URLs out of the index.
    "CREATE INDEX links_org_url_idx ON links (org_id, md5(url))",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
