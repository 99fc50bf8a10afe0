"""Failed logins are counted per email and client address too (its SHA-256, like the email's).

Ten failures from one address lock that address out of the account; the account as a whole is
locked only by many more, so nobody can lock a stranger out with a handful of guesses.
"""


async def migrate(db) -> None:
    await db.execute("ALTER TABLE login_failures ADD COLUMN client_hash TEXT")
