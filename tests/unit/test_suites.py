"""Hash suites: SM3 checked against GB/T 32905-2016's published examples, SHA-256 against FIPS 180-4's."""

from __future__ import annotations

import pytest

from ledger.core.suites import GM, INTL, suite_from_bytes8, suite_named
from ledger.errors import InputError

# GB/T 32905-2016 (SM3), Appendix A: example 1 "abc" and example 2 "abcd" repeated 16 times (64 bytes).
GB_T_32905 = {
    b"abc": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
    b"abcd" * 16: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
}
# FIPS 180-4 examples (SHA-256): "abc" and the empty string.
FIPS_180_4 = {
    b"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    b"": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
}


@pytest.mark.parametrize(("data", "digest"), GB_T_32905.items(), ids=["abc", "abcd*16"])
def test_sm3_matches_gb_t_32905(data: bytes, digest: str) -> None:
    assert GM.hash(data).hex() == digest
    assert GM.hexdigest(data) == digest


@pytest.mark.parametrize(("data", "digest"), FIPS_180_4.items(), ids=["abc", "empty"])
def test_sha256_matches_fips_180_4(data: bytes, digest: str) -> None:
    assert INTL.hash(data).hex() == digest


def test_on_chain_spelling() -> None:
    assert INTL.bytes8.hex() == "696e746c00000000"
    assert GM.bytes8.hex() == "676d000000000000"
    assert suite_from_bytes8(GM.bytes8) is GM
    assert suite_from_bytes8(INTL.bytes8) is INTL


@pytest.mark.parametrize(
    "raw", [b"\x00" * 8, b"sha256\x00\x00", b"gm\x00\x00\x00\x00\x00\x01", b"INTL\x00\x00\x00\x00"]
)
def test_unknown_suites_are_refused(raw: bytes) -> None:
    with pytest.raises(InputError) as err:
        suite_from_bytes8(raw)
    assert err.value.field == "suite"


def test_suite_by_name() -> None:
    assert suite_named("gm") is GM
    with pytest.raises(InputError):
        suite_named("sm3")
