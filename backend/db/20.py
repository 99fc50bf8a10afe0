"""Single sign-on into an account with two-factor on waits for its code: the browser holds a
short-lived single-use token of the purpose ``sso_second_factor`` meanwhile."""

STATEMENTS = [
    "ALTER TABLE user_tokens DROP CONSTRAINT user_tokens_purpose_check",
    """ALTER TABLE user_tokens ADD CONSTRAINT user_tokens_purpose_check
           CHECK (purpose IN ('verify_email', 'reset_password', 'sso_second_factor'))""",
]


async def migrate(db) -> None:
    for statement in STATEMENTS:
        await db.execute(statement)
