"""Accounts: verified emails, one-time tokens (verification, password reset), two-factor,
single sign-on settings of orgs, deleted accounts, the account activity log and the outbox.

A deleted account keeps its row (with its personal data removed) so that audit entries and
links still name the same id; ``deleted_at`` marks it.
"""

STATEMENTS = [
    # Accounts made by single sign-on have no password.
    "ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL",
    "ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ",
    "ALTER TABLE users ADD COLUMN deleted_at TIMESTAMPTZ",
    # TOTP (RFC 6238): the confirmed secret, one being set up, and the last time-step used,
    # so that a code is never accepted twice.
    "ALTER TABLE users ADD COLUMN totp_secret TEXT",
    "ALTER TABLE users ADD COLUMN totp_pending_secret TEXT",
    "ALTER TABLE users ADD COLUMN totp_last_step BIGINT",
    """CREATE TABLE recovery_codes (
           user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
           code_hash TEXT NOT NULL,
           used_at TIMESTAMPTZ,
           PRIMARY KEY (user_id, code_hash)
       )""",
    # Single-use tokens mailed to a user; only their SHA-256 is kept.
    """CREATE TABLE user_tokens (
           token_hash TEXT PRIMARY KEY,
           user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
           purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
           email TEXT NOT NULL,
           expires_at TIMESTAMPTZ NOT NULL,
           used_at TIMESTAMPTZ,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )""",
    "CREATE INDEX user_tokens_user_id_idx ON user_tokens (user_id, purpose)",
    "ALTER TABLE orgs ADD COLUMN require_2fa BOOLEAN NOT NULL DEFAULT FALSE",
    "ALTER TABLE orgs ADD COLUMN sso_domains TEXT[] NOT NULL DEFAULT '{}'",
    "CREATE INDEX orgs_sso_domains_idx ON orgs USING gin (sso_domains)",
    # Logins by single sign-on: the provider's subject of each account.
    """CREATE TABLE sso_identities (
           issuer TEXT NOT NULL,
           subject TEXT NOT NULL,
           user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           PRIMARY KEY (issuer, subject)
       )""",
    # A login started at the provider: state, nonce and PKCE verifier, until its callback.
    """CREATE TABLE sso_logins (
           state_hash TEXT PRIMARY KEY,
           nonce TEXT NOT NULL,
           code_verifier TEXT NOT NULL,
           expires_at TIMESTAMPTZ NOT NULL
       )""",
    # Account events that belong to no org (password reset, two-factor, sign-ins, deletion).
    # user_id is no foreign key: the entry outlives the account, with nothing personal in it.
    """CREATE TABLE account_log (
           id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           user_id UUID NOT NULL,
           at TIMESTAMPTZ NOT NULL DEFAULT now(),
           action TEXT NOT NULL,
           detail JSONB NOT NULL DEFAULT '{}',
           ip_hash TEXT
       )""",
    "CREATE INDEX account_log_user_idx ON account_log (user_id, id DESC)",
    # The outbox: a mail is written with the change that causes it and sent by a job; the body
    # (which may hold a token) is cleared once the server accepted it.
    """CREATE TABLE mails (
           id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           recipient TEXT NOT NULL,
           subject TEXT NOT NULL,
           text_body TEXT NOT NULL,
           html_body TEXT NOT NULL,
           created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           sent_at TIMESTAMPTZ
       )""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
