"""At-rest ciphers against the standards' published vectors: SM4 (GB/T 32907-2016), SM4-GCM (RFC 8998),
AES-256-GCM (the GCM specification's test cases, McGrew & Viega, as in NIST's GCM validation)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ledger.core.aead import Aead, AeadError, cipher_of_suite

# GB/T 32907-2016 (SM4), Appendix A, example 1: key = plaintext = 0123456789abcdeffedcba9876543210.
SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")
SM4_EXAMPLE_1 = "681edf34d206965e86b3e94f536e4246"

# RFC 8998 Appendix A.1 (SM4-GCM): key, IV, AAD, plaintext, ciphertext, tag.
RFC8998_GCM = {
    "key": "0123456789ABCDEFFEDCBA9876543210",
    "iv": "00001234567800000000ABCD",
    "aad": "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
    "plaintext": "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    "ciphertext": "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
    "tag": "83DE3541E4C2B58177E065A9BF7B62EC",
}

# The GCM specification's test cases 13 and 14 (256-bit zero key, zero IV).
AES_GCM = [
    ("", "530f8afbc74536b9a963b4f1c4cb738b"),
    ("00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"),
]


def test_sm4_block_matches_gb_t_32907_example_1() -> None:
    enc = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    assert (enc.update(SM4_KEY) + enc.finalize()).hex() == SM4_EXAMPLE_1


def test_sm4_gcm_matches_rfc_8998() -> None:
    v = {k: bytes.fromhex(x) for k, x in RFC8998_GCM.items()}
    aead = Aead.for_cipher("sm4-gcm", v["key"])
    out = aead.encrypt(v["iv"], v["plaintext"], v["aad"])
    assert out == v["ciphertext"] + v["tag"]
    assert aead.decrypt(v["iv"], out, v["aad"]) == v["plaintext"]


@pytest.mark.parametrize(("plaintext", "expected"), AES_GCM, ids=["case-13", "case-14"])
def test_aes_256_gcm_matches_the_gcm_test_cases(plaintext: str, expected: str) -> None:
    aead = Aead.for_cipher("aes-256-gcm", bytes(32))
    assert aead.encrypt(bytes(12), bytes.fromhex(plaintext), b"").hex() == expected


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "sm4-gcm"])
def test_altered_ciphertext_or_other_context_does_not_open(cipher: str) -> None:
    aead = Aead.for_cipher(cipher, bytes(32 if cipher == "aes-256-gcm" else 16))
    ct = aead.encrypt(bytes(12), "林小梅".encode(), b"rec/TB-1/000000")
    with pytest.raises(AeadError):
        aead.decrypt(bytes(12), ct, b"rec/TB-2/000000")
    flipped = bytes([ct[0] ^ 1]) + ct[1:]
    with pytest.raises(AeadError):
        aead.decrypt(bytes(12), flipped, b"rec/TB-1/000000")
    with pytest.raises(AeadError):
        aead.decrypt(bytes(12), ct[:-1] + bytes([ct[-1] ^ 1]), b"rec/TB-1/000000")


def test_key_lengths_and_suites() -> None:
    assert cipher_of_suite("intl") == "aes-256-gcm" and cipher_of_suite("gm") == "sm4-gcm"
    with pytest.raises(ValueError, match="16-byte"):
        Aead.for_cipher("sm4-gcm", bytes(32))
    with pytest.raises(ValueError, match="unknown cipher"):
        Aead.for_cipher("des", bytes(8))
