"""Every API token traces back to a person: tokens made by a token get that token's creator.

Tokens act with at most their creator's current role and only while the creator is a member
(see models/tokens.py), so a token without a creator would stop working. The audit log names
the token that made each token; chains of tokens made by tokens are followed to the person.
"""


async def migrate(db) -> None:
    while True:
        updated = await db.fetch_val("""WITH made AS (
                   UPDATE api_tokens SET created_by = maker.created_by
                     FROM audit_log, api_tokens AS maker
                    WHERE api_tokens.created_by IS NULL
                      AND audit_log.action = 'token.create'
                      AND audit_log.org_id = api_tokens.org_id
                      AND audit_log.target = api_tokens.id::text
                      AND maker.id = audit_log.token_id
                      AND maker.created_by IS NOT NULL
                   RETURNING api_tokens.id
               )
               SELECT count(*) FROM made""")
        if not updated:
            return
