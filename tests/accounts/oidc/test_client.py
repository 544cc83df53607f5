"""The ID token checks: signature (JWKS), issuer, audience, expiry, nonce, algorithm."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet, OctKey, RSAKey

from admitone.accounts.oidc.client import verify_id_token
from admitone.accounts.oidc.errors import IdentityProviderInvalidResponse

ISSUER = "https://id.example.com"
CLIENT_ID = "admitone"
NONCE = "n-0S6_WzA2Mj"


@pytest.fixture(scope="module")
def provider_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": "248289761001",
        "aud": CLIENT_ID,
        "exp": now + 300,
        "iat": now,
        "nonce": NONCE,
        "email": "ada@example.com",
        "email_verified": True,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, object], key: RSAKey | OctKey, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def _verify(token: str, key: RSAKey) -> dict[str, object]:
    return verify_id_token(
        token,
        key_set=KeySet([key]),
        algorithms=["RS256"],
        issuer=ISSUER,
        client_id=CLIENT_ID,
        nonce=NONCE,
        access_token=None,
    )


def test_a_good_token_gives_its_claims(provider_key: RSAKey) -> None:
    claims = _verify(_sign(_claims(), provider_key), provider_key)
    assert claims["sub"] == "248289761001"
    assert claims["email_verified"] is True


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": "https://evil.example.com"}, id="other issuer"),
        pytest.param({"aud": "someone-else"}, id="other audience"),
        pytest.param({"aud": ["someone-else", "third"]}, id="not in the audiences"),
        pytest.param({"exp": int(time.time()) - 600}, id="expired"),
        pytest.param({"nonce": "replayed-nonce"}, id="other nonce"),
        pytest.param({"nonce": None}, id="no nonce"),
        pytest.param({"sub": None}, id="no subject"),
        pytest.param({"iss": None}, id="no issuer"),
    ],
)
def test_a_token_with_wrong_claims_is_refused(
    provider_key: RSAKey, changes: dict[str, object]
) -> None:
    with pytest.raises(IdentityProviderInvalidResponse):
        _verify(_sign(_claims(**changes), provider_key), provider_key)


def test_a_token_signed_by_another_key_with_the_same_id_is_refused(provider_key: RSAKey) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(IdentityProviderInvalidResponse):
        _verify(_sign(_claims(), impostor), provider_key)


def test_an_unknown_key_id_is_let_through_for_a_key_refresh(provider_key: RSAKey) -> None:
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    with pytest.raises(InvalidKeyIdError):
        _verify(_sign(_claims(), rotated), provider_key)


def test_an_hmac_token_is_refused_even_with_a_matching_key(provider_key: RSAKey) -> None:
    # An attacker who knows a public value must not be able to sign with HS256.
    shared = OctKey.import_key("a-secret-anyone-could-guess-000000", {"kid": "k1"})
    token = _sign(_claims(), shared, alg="HS256")
    with pytest.raises(IdentityProviderInvalidResponse):
        verify_id_token(
            token,
            key_set=KeySet([provider_key, shared]),
            algorithms=["RS256"],
            issuer=ISSUER,
            client_id=CLIENT_ID,
            nonce=NONCE,
            access_token=None,
        )


def test_a_tampered_payload_is_refused(provider_key: RSAKey) -> None:
    header, _payload, signature = _sign(_claims(), provider_key).split(".")
    forged_payload = _sign(_claims(sub="admin"), provider_key).split(".")[1]
    with pytest.raises(IdentityProviderInvalidResponse):
        _verify(f"{header}.{forged_payload}.{signature}", provider_key)
