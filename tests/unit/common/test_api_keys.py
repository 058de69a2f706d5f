import pytest

from sma_common.api_keys import generate_key, normalise_scopes, parse_token, secret_matches


def test_generated_keys_parse_and_verify() -> None:
    key = generate_key()
    parsed = parse_token(key.token)
    assert parsed is not None
    prefix, secret = parsed
    assert prefix == key.prefix
    assert secret_matches(secret, key.secret_hash)
    assert not secret_matches(secret[:-1] + ("A" if secret[-1] != "A" else "B"), key.secret_hash)
    assert secret not in key.secret_hash.hex()


@pytest.mark.parametrize("token", ["", "sma_", "sma_abc_def", "Bearer x", "sma_ABCDEFGH_" + "a" * 43, "x" * 500])
def test_malformed_tokens_do_not_parse(token: str) -> None:
    assert parse_token(token) is None


def test_scopes_imply_the_lesser_ones() -> None:
    assert normalise_scopes(["admin"]) == ["read", "write", "admin"]
    assert normalise_scopes(["write"]) == ["read", "write"]
    assert normalise_scopes(["read"]) == ["read"]
    with pytest.raises(ValueError, match="root"):
        normalise_scopes(["root"])
