from databases import Database


async def select_role(db: Database, org_id: str, user_id: str) -> str | None:
    """The user's role in the org, None when not a member (or no such org)."""
    return await db.fetch_val(
        "SELECT role FROM members WHERE org_id = :org_id AND user_id = :user_id",
        {"org_id": org_id, "user_id": user_id},
    )
