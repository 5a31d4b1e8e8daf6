"""Staff accounts: Argon2 hashes, TOTP second factor, expiring sessions, login rate limit (clock injected)."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest

from ledger.errors import AuthError, InputError, RateLimitedError
from ledger.hall.accounts import AccountBook, ensure_demo_accounts
from ledger.hall.store import Store

PW = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def book(tmp_path: Path) -> AccountBook:
    return AccountBook(Store.init(tmp_path / "store"), hall_id=1, clock=Clock(), session_ttl=3600)


def _clock(book: AccountBook) -> Clock:
    assert isinstance(book.clock, Clock)
    return book.clock


def test_password_is_stored_as_an_argon2_hash(book: AccountBook) -> None:
    book.create("wang.clerk", PW, roles=["clerk"])
    raw = book.store.get(b"acct/wang.clerk")
    assert raw is not None and PW.encode() not in raw and b"$argon2id$" in raw
    s = book.login("wang.clerk", PW, client="c")
    assert book.authenticate(s.token).account.username == "wang.clerk"
    # the token itself is not stored, only its hash
    assert not any(s.token.encode() in k + v for k, v in book.store.iter_prefix(b"sess/"))


def test_totp_required_for_officers_and_single_use(book: AccountBook) -> None:
    secret = book.create("li.officer", PW, roles=["officer"]).totp_secret
    assert secret
    with pytest.raises(AuthError, match="one-time code"):
        book.login("li.officer", PW, None, client="c")
    code = pyotp.TOTP(secret).at(_clock(book)())
    book.login("li.officer", PW, code, client="c")
    with pytest.raises(AuthError):  # the same code again: refused
        book.login("li.officer", PW, code, client="c")
    _clock(book).t += 30
    book.login("li.officer", PW, pyotp.TOTP(secret).at(_clock(book)()), client="c")


def test_clerk_and_regulator_need_no_totp(book: AccountBook) -> None:
    assert book.create("a.clerk", PW, roles=["clerk"]).totp_secret is None
    assert book.create("a.reg", PW, roles=["regulator"]).totp_secret is None
    assert book.create("a.admin", PW, roles=["hall_admin"]).totp_secret is not None
    assert book.create("a.disp", PW, roles=["dispute_officer"]).totp_secret is not None


def test_lockout_after_five_failures_per_username_and_client(book: AccountBook) -> None:
    book.create("zhao.clerk", PW, roles=["clerk"])
    for _ in range(5):
        with pytest.raises(AuthError):
            book.login("zhao.clerk", "wrong password!!", client="10.0.0.1")
    with pytest.raises(RateLimitedError) as e:
        book.login("zhao.clerk", PW, client="10.0.0.1")  # even the right password
    assert e.value.retry_after > 0
    book.login("zhao.clerk", PW, client="10.0.0.2")  # another client is not locked out
    _clock(book).t += 15 * 60 + 1
    book.login("zhao.clerk", PW, client="10.0.0.1")


def test_sessions_expire_and_end(book: AccountBook) -> None:
    book.create("sun.clerk", PW, roles=["clerk"])
    s = book.login("sun.clerk", PW, client="c")
    _clock(book).t += 3599
    book.authenticate(s.token)
    _clock(book).t += 2
    with pytest.raises(AuthError, match="expired"):
        book.authenticate(s.token)
    s2 = book.login("sun.clerk", PW, client="c")
    book.logout(s2.token)
    with pytest.raises(AuthError):
        book.authenticate(s2.token)


def test_disable_and_reset_totp_end_sessions(book: AccountBook) -> None:
    secret = book.create("qian.officer", PW, roles=["officer"]).totp_secret
    assert secret
    s = book.login("qian.officer", PW, pyotp.TOTP(secret).at(_clock(book)()), client="c")
    new = book.reset_totp("qian.officer").totp_secret
    assert new and new != secret
    with pytest.raises(AuthError):
        book.authenticate(s.token)
    _clock(book).t += 30
    with pytest.raises(AuthError):  # the old authenticator no longer works
        book.login("qian.officer", PW, pyotp.TOTP(secret).at(_clock(book)()), client="c")
    s = book.login("qian.officer", PW, pyotp.TOTP(new).at(_clock(book)()), client="c2")
    book.set_disabled("qian.officer")
    with pytest.raises(AuthError):
        book.authenticate(s.token)
    with pytest.raises(AuthError, match="disabled"):
        book.login("qian.officer", PW, pyotp.TOTP(new).at(_clock(book)() + 30), client="c3")


@pytest.mark.parametrize(
    ("username", "password", "roles", "field"),
    [
        ("Bad Name", PW, ["clerk"], "username"),
        ("ok.name", "short", ["clerk"], "password"),
        ("ok.name", PW, ["root"], "roles"),
        ("ok.name", PW, [], "roles"),
    ],
)
def test_bad_account_input_names_the_field(
    book: AccountBook, username: str, password: str, roles: list[str], field: str
) -> None:
    with pytest.raises(InputError) as e:
        book.create(username, password, roles=roles)
    assert e.value.field == field


def test_demo_accounts_file_is_private(book: AccountBook, tmp_path: Path) -> None:
    path = tmp_path / "demo-accounts.json"
    accounts = ensure_demo_accounts(book, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert set(accounts) == {"clerk", "officer", "dispute", "regulator", "admin", "demo"}
    assert json.loads(path.read_text()) == accounts
    c = accounts["officer"]
    book.login("officer", c["password"], pyotp.TOTP(c["totp_secret"]).at(_clock(book)()), client="c")
    assert ensure_demo_accounts(book, path) == accounts  # second start: nothing new
