"""Core tables: users and their sessions, orgs, members and invitations, links, API tokens."""

STATEMENTS = [
    # Trusted extension (PostgreSQL 13+): the database owner may create it. Powers link search.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """CREATE TABLE users (
           id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
           email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND email LIKE '%_@_%'),
           name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 100),
           password_hash TEXT NOT NULL,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
    "CREATE UNIQUE INDEX users_email_key ON users (lower(email))",
    # A browser session: the cookie carries a random id, the table only its SHA-256, so that
    # logout and password changes can end sessions for real.
    """CREATE TABLE sessions (
           id_hash TEXT PRIMARY KEY,
           user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           expires_at TIMESTAMPTZ NOT NULL
       )""",
    "CREATE INDEX sessions_user_id_idx ON sessions (user_id)",
    """CREATE TABLE orgs (
           id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
           name TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
           created_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
    """CREATE TABLE members (
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
           role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
           joined_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           PRIMARY KEY (org_id, user_id)
       )""",
    "CREATE INDEX members_user_id_idx ON members (user_id)",
    """CREATE TABLE invitations (
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
           role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
           invited_by UUID REFERENCES users (id) ON DELETE SET NULL,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           PRIMARY KEY (org_id, email)
       )""",
    "CREATE INDEX invitations_email_idx ON invitations (lower(email))",
    """CREATE TABLE api_tokens (
           id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           name TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
           role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
           secret_hash TEXT NOT NULL UNIQUE,
           created_by UUID REFERENCES users (id) ON DELETE SET NULL,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           last_used_at TIMESTAMPTZ
       )""",
    "CREATE INDEX api_tokens_org_id_idx ON api_tokens (org_id)",
    """CREATE TABLE links (
           id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           org_id UUID NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
           slug TEXT NOT NULL UNIQUE CHECK (slug ~ '^[A-Za-z0-9_-]{3,64}$'),
           url TEXT NOT NULL CHECK (length(url) <= 2048 AND url ~ '^https?://'),
           title TEXT CHECK (length(title) <= 200),
           created_by UUID REFERENCES users (id) ON DELETE SET NULL,
           created_by_token UUID REFERENCES api_tokens (id) ON DELETE SET NULL,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           expires_at TIMESTAMPTZ,
           disabled BOOLEAN NOT NULL DEFAULT FALSE,
           redirect_status SMALLINT NOT NULL DEFAULT 302
               CHECK (redirect_status IN (301, 302, 307, 308)),
           clicks BIGINT NOT NULL DEFAULT 0 CHECK (clicks >= 0)
       )""",
    # Newest-first keyset pagination within an org.
    "CREATE INDEX links_org_newest_idx ON links (org_id, created_at DESC, id DESC)",
    # Case-insensitive substring search over slug, url and title.
    """CREATE INDEX links_search_idx ON links
           USING gin ((slug || ' ' || url || ' ' || coalesce(title, '')) gin_trgm_ops)""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
