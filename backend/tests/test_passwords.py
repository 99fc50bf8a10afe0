import subprocess
import sys

import pytest

from kurz.errors import APIError
from kurz.passwords import check_new_password, hash_password, verify_password

from .support import BACKEND_DIR, PASSWORD


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("Xy7!kq", "PASSWORD_TOO_SHORT"),
        ("ä" * 37, "PASSWORD_TOO_LONG"),  # 37 characters, but 74 bytes
        ("password123", "WEAK_PASSWORD"),
        ("qwertyuiop", "WEAK_PASSWORD"),
        ("Welcome1!", "WEAK_PASSWORD"),
        ("hunter22", "WEAK_PASSWORD"),
        ("alice.smith@example.com", "WEAK_PASSWORD"),  # the user's own email
    ],
)
def test_refused_passwords_name_the_field(password: str, code: str) -> None:
    with pytest.raises(APIError) as caught:
        check_new_password(password, "new_password", ["alice.smith@example.com", "Alice"])
    assert (caught.value.status, caught.value.code) == (400, code)
    assert caught.value.errors[0]["field"] == "new_password"


def test_a_strong_password_of_up_to_72_bytes_is_accepted() -> None:
    check_new_password(PASSWORD, "password", [])
    check_new_password("Zq9#xT!w", "password", [])  # the shortest: 8 random characters
    at_most = "Kürbis-Öl-Fähre-Brücke-Straße-Zwölf-Bär-Mühle-Tür" + "x" * 14
    assert len(at_most.encode()) == 72
    check_new_password(at_most, "password", [])


def test_production_hashes_use_cost_12() -> None:
    # The test suite lowers the cost in-process; a fresh interpreter shows the real default.
    code = (
        "import asyncio; from kurz.passwords import hash_password as h; print(asyncio.run(h('x')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=BACKEND_DIR, check=True
    )
    assert result.stdout.startswith("$2b$12$")


async def test_hash_and_verify() -> None:
    hashed = await hash_password(PASSWORD)
    assert hashed.startswith("$2b$04$")  # the suite's fast cost
    assert await verify_password(PASSWORD, hashed)
    assert not await verify_password(PASSWORD + "!", hashed)
    # Longer than bcrypt reads: could never have been set, so it never matches.
    assert not await verify_password(PASSWORD + "x" * 80, hashed)


async def test_unknown_users_cost_one_bcrypt_at_the_same_cost(checked_hashes) -> None:
    assert not await verify_password(PASSWORD, None)
    assert not await verify_password(PASSWORD, await hash_password("something else 123!"))
    assert checked_hashes == [b"$2b$04$", b"$2b$04$"]
