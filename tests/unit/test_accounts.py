"""Staff accounts: Argon2 hashes, sealed TOTP second factor, expiring sessions, separated duties, password
policy, sign-in limits per account and per address (clock injected)."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest
from argon2 import PasswordHasher

from ledger.errors import AuthError, ConfigError, ForbiddenError, InputError, RateLimitedError
from ledger.hall.accounts import AccountBook, ensure_demo_accounts, open_kek
from ledger.hall.kek import KeyEncryptionKey
from ledger.hall.keys import AUTHFAIL_PREFIX
from ledger.hall.store import Store

PW = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # still Argon2id; cheap, for the many sign-ins


def make_book(tmp_path: Path, **kw: object) -> AccountBook:
    kw.setdefault("hasher", FAST)
    kek = KeyEncryptionKey.load_or_create(tmp_path / "kek.json")
    return AccountBook(Store.init(tmp_path / "store"), hall_id=1, kek=kek, clock=Clock(), session_ttl=3600, **kw)  # type: ignore[arg-type]


@pytest.fixture
def book(tmp_path: Path) -> AccountBook:
    return make_book(tmp_path)


def _clock(book: AccountBook) -> Clock:
    assert isinstance(book.clock, Clock)
    return book.clock


def test_password_is_stored_as_an_argon2_hash(tmp_path: Path) -> None:
    book = make_book(tmp_path, hasher=None)  # the production parameters
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
    for role in ("sys_admin", "security_admin", "auditor"):
        assert book.create(f"a.{role.replace('_', '-')}", PW, roles=[role]).totp_secret is not None
    assert book.create("a.disp", PW, roles=["dispute_officer"]).totp_secret is not None


def test_account_lock_holds_across_addresses_but_not_for_a_known_client(book: AccountBook) -> None:
    """Regression (issue 12 item 2): failures were counted per (username, client) only, so a new client
    address per attempt gave unlimited guesses."""
    book.create("zhao.clerk", PW, roles=["clerk"])
    book.login("zhao.clerk", PW, client="10.0.0.9")  # the clerk's own counter PC, known from now on
    for i in range(5):
        with pytest.raises(AuthError):
            book.login("zhao.clerk", "wrong password!!", client=f"10.0.1.{i}")  # a new address every time
    with pytest.raises(RateLimitedError) as e:
        book.login("zhao.clerk", PW, client="10.0.2.1")  # even the right password, from a new address
    assert 0 < e.value.retry_after <= 31
    book.login("zhao.clerk", PW, client="10.0.0.9")  # the real user at their usual PC is not locked out
    _clock(book).t += 31
    book.login("zhao.clerk", PW, client="10.0.2.1")


def test_back_off_doubles_and_is_capped_at_fifteen_minutes(book: AccountBook) -> None:
    book.create("ma.clerk", PW, roles=["clerk"])
    waits = []
    for _ in range(12):
        with pytest.raises(AuthError) as e:  # the first 4 are plain failures, then a lock each time
            book.login("ma.clerk", "wrong password!!", client="10.0.0.1")
        if isinstance(e.value, RateLimitedError):
            raise AssertionError("a failure was refused as locked: locks must have run out before each attempt")
        try:
            book.login("ma.clerk", "wrong password!!", client="10.0.0.2")
        except RateLimitedError as locked:
            waits.append(locked.retry_after)
            _clock(book).t += locked.retry_after  # wait it out, then fail again
        except AuthError:
            pass
    assert waits[:5] == [31, 61, 121, 241, 481], waits
    assert max(waits) == 15 * 60 + 1 and all(w <= 15 * 60 + 1 for w in waits)


def test_address_lock_stops_one_address_spraying_many_accounts(book: AccountBook) -> None:
    book.create("real.clerk", PW, roles=["clerk"])
    for i in range(20):
        with pytest.raises(AuthError):
            book.login(f"guess{i}", "wrong password!!", client="192.0.2.7")
    with pytest.raises(RateLimitedError, match="from this address"):
        book.login("real.clerk", PW, client="192.0.2.7")
    book.login("real.clerk", PW, client="192.0.2.8")  # another address is not affected
    # an IPv6 host is counted by its /64: rotating addresses inside it does not help
    for i in range(20):
        with pytest.raises(AuthError):
            book.login(f"guess{i}", "wrong password!!", client=f"2001:db8:1:2::{i + 1:x}")
    with pytest.raises(RateLimitedError):
        book.login("real.clerk", PW, client="2001:db8:1:2::ffff")


def test_locks_are_listed_cleared_and_reported(tmp_path: Path) -> None:
    events: list[tuple[str, str]] = []
    book = make_book(tmp_path, on_event=lambda a, w: events.append((a, w)))
    book.create("he.clerk", PW, roles=["clerk"])
    for _ in range(5):
        with pytest.raises(AuthError):
            book.login("he.clerk", "wrong password!!", client="10.0.0.1")
    assert [(lk.kind, lk.label) for lk in book.lockouts()] == [("account", "he.clerk")]
    assert events and events[-1][0] == "login_locked" and "he.clerk" in events[-1][1]
    assert book.clear_lockouts(username="he.clerk") == 1
    assert book.lockouts() == []
    book.login("he.clerk", PW, client="10.0.0.1")
    with pytest.raises(InputError):
        book.clear_lockouts()


def test_locked_attempts_are_not_counted(book: AccountBook) -> None:
    """Hammering a lock does not stretch it: refused attempts are not failures."""
    book.create("lu.clerk", PW, roles=["clerk"])
    for _ in range(5):
        with pytest.raises(AuthError):
            book.login("lu.clerk", "wrong password!!", client="10.0.0.1")
    for _ in range(100):
        with pytest.raises(RateLimitedError):
            book.login("lu.clerk", "wrong password!!", client="10.0.0.3")
    _clock(book).t += 31
    book.login("lu.clerk", PW, client="10.0.0.3")


def test_ten_thousand_bad_logins_keep_failure_records_bounded(tmp_path: Path) -> None:
    """Regression (issue 12 item 10): failure records were never pruned; memory grew with every bad login.

    10,000 bad sign-ins, one a second, from 500 addresses against random usernames: the number of stored
    failure records stays bounded by what the last hour can hold, and falls to nothing once it is quiet.
    (Argon2 at its cheapest here, see FAST: the test is about the records; the real cost would take minutes.)"""
    book = make_book(tmp_path)
    peak = 0
    for i in range(10_000):
        _clock(book).t += 1
        try:
            book.login(
                f"nobody{i}", "wrong password!!", client=f"198.51.100.{i % 250}" if i % 2 else f"203.0.113.{i % 250}"
            )
        except AuthError:
            pass
        if i % 500 == 0:
            peak = max(peak, book.store.count_prefix(AUTHFAIL_PREFIX))
    assert peak <= 3600 + 500 + 60, peak  # an hour of accounts + the addresses + one prune interval
    _clock(book).t += 2 * 3600
    book.prune()
    assert book.store.count_prefix(AUTHFAIL_PREFIX) == 0


def test_totp_secret_is_sealed_in_the_store(tmp_path: Path) -> None:
    """Regression (issue 12 item 4): TOTP secrets were stored in plain text, so a backup gave them away."""
    book = make_book(tmp_path)
    secret = book.create("yan.officer", PW, roles=["officer"]).totp_secret
    assert secret
    raw = b"".join(k + v for k, v in book.store.iter_prefix(b""))
    assert secret.encode() not in raw and b"kek1." in raw
    # the store alone (a backup) with another key-encryption key does not open it
    book.store.close()
    with Store(tmp_path / "store") as store:
        with pytest.raises(ConfigError, match="does not hold key-encryption key"):
            open_kek(KeyEncryptionKey.create(tmp_path / "other.kek").path, store)
        # a restore without the KEK file: refused with the way out, instead of a new key that locks everyone out
        with pytest.raises(ConfigError, match="put back the KEK file"):
            open_kek(tmp_path / "missing.kek", store)
    assert not (tmp_path / "missing.kek").exists()


def test_plain_secrets_of_an_older_store_are_sealed_at_start(tmp_path: Path) -> None:
    book = make_book(tmp_path)
    book.create("old.officer", PW, roles=["officer"])
    raw = book.store.get_json(b"acct/old.officer")
    plain = pyotp.random_base32()
    raw.pop("totp_sealed")
    raw["totp_secret"] = plain  # what a store written before sealing holds
    book.store.put_json(b"acct/old.officer", raw)
    assert book.seal_plain_secrets() == 1 and book.seal_plain_secrets() == 0
    assert plain.encode() not in (book.store.get(b"acct/old.officer") or b"")
    book.login("old.officer", PW, pyotp.TOTP(plain).at(_clock(book)()), client="c")


def test_full_width_totp_digits_are_accepted(book: AccountBook) -> None:
    """Regression (issue 12 item 5): full-width digits in a TOTP code gave a 500 (TypeError in compare_digest)."""
    secret = book.create("fw.officer", PW, roles=["officer"]).totp_secret
    assert secret
    code = pyotp.TOTP(secret).at(_clock(book)())
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    book.login("fw.officer", PW, full_width, client="c")
    with pytest.raises(AuthError):
        book.login("fw.officer", PW, "١٢٣٤٥٦", client="c")  # Arabic-Indic digits are no code


@pytest.mark.parametrize(
    "roles",
    [("sys_admin", "clerk"), ("security_admin", "officer"), ("auditor", "regulator"), ("sys_admin", "auditor")],
)
def test_duties_are_separated(book: AccountBook, roles: tuple[str, ...]) -> None:
    """Regression (issue 12 item 4): an admin could create accounts combining administration and case roles."""
    with pytest.raises(InputError) as e:
        book.create("mixed.one", PW, roles=roles)
    assert e.value.field == "roles" and e.value.message("zh")


def test_roles_change_with_duties_checked_never_ones_own(book: AccountBook) -> None:
    book.create("sec.one", PW, roles=["security_admin"])
    book.create("wu.clerk", PW, roles=["clerk"])
    s = book.login("wu.clerk", PW, client="c")
    c = book.set_roles("wu.clerk", ["clerk", "officer"], by="sec.one")
    assert c.account.roles == {"clerk", "officer"} and c.totp_secret  # officers need a second factor
    with pytest.raises(AuthError):
        book.authenticate(s.token)  # sessions end with a role change
    with pytest.raises(InputError):
        book.set_roles("wu.clerk", ["officer", "sys_admin"], by="sec.one")
    with pytest.raises(ForbiddenError):
        book.set_roles("sec.one", ["security_admin", "auditor"], by="sec.one")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password1234", "too common"),
        ("qwertyuiop12", "too common"),
        ("123456789012", "too common"),
        ("aaaaaaaaaaaaaaa", "too common"),
        ("zhang.clerk-2026!", "username"),
        ("ZhangClerk#longer", "username"),
    ],
)
def test_password_policy_refuses_common_and_username_passwords(book: AccountBook, password: str, why: str) -> None:
    """Regression (issue 12 item 10): the policy was length only."""
    with pytest.raises(InputError) as e:
        book.create("zhang.clerk", password, roles=["clerk"])
    assert e.value.field == "password" and why in e.value.text and e.value.message("zh")


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
    assert set(accounts) == {"clerk", "officer", "dispute", "regulator", "admin", "secadmin", "auditor", "demo"}
    assert json.loads(path.read_text()) == accounts
    c = accounts["officer"]
    book.login("officer", c["password"], pyotp.TOTP(c["totp_secret"]).at(_clock(book)()), client="c")
    assert ensure_demo_accounts(book, path) == accounts  # second start: nothing new
