"""The OpenID Connect relying party: discovery, authorization code with PKCE, ID tokens.

Authlib (its requests integration) does the protocol: the authorization URL with its S256 code challenge, the code
exchange with client authentication, the ID token's claim checks (``CodeIDToken``:
issuer, audience, expiry, issued-at, nonce, azp, at_hash); joserfc (Authlib's JOSE
library) checks the signature against the provider's published keys (JWKS). This module
only chooses the values and refuses what does not match; it touches no database.

Discovery documents and key sets are cached per process for
``ADMITONE_OIDC_DISCOVERY_CACHE_SECONDS``; a token signed by a key id the cached set
does not know fetches the set again once (the provider rotated its keys).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from admitone.accounts.oidc.errors import (
    IdentityProviderInvalidResponse,
    IdentityProviderUnavailable,
)
from admitone.accounts.oidc.service import ProviderIdentity
from admitone.config import OidcProvider, Settings

# Only keys the provider publishes can verify a token: no "none", and no HMAC, whose
# key would be our own client secret.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# Clock skew tolerated between the provider and us for exp / iat.
LEEWAY_SECONDS = 120


@dataclass(frozen=True)
class LoginStart:
    """Where to send the browser, and the secrets to keep until it comes back."""

    authorization_url: str
    state: str
    nonce: str
    code_verifier: str


# --- discovery and keys, cached -------------------------------------------------------

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every discovery document and key set (tests; a changed configuration)."""
    with _cache_lock:
        _cache.clear()


def _get_json(url: str, settings: Settings) -> dict[str, Any]:
    try:
        response = requests.get(
            url, headers={"accept": "application/json"}, timeout=settings.oidc_http_timeout_seconds
        )
    except requests.RequestException as exc:
        raise IdentityProviderUnavailable(reason=type(exc).__name__) from exc
    if response.status_code >= 500:
        raise IdentityProviderUnavailable(reason=f"HTTP {response.status_code}")
    if response.status_code != 200:
        raise IdentityProviderInvalidResponse(reason=f"HTTP {response.status_code} from {url}")
    try:
        data = response.json()
    except ValueError as exc:
        raise IdentityProviderInvalidResponse(reason=f"not JSON: {url}") from exc
    if not isinstance(data, dict):
        raise IdentityProviderInvalidResponse(reason=f"not a JSON object: {url}")
    return data


def _cached_json(url: str, settings: Settings, *, refresh: bool = False) -> dict[str, Any]:
    now = time.monotonic()
    with _cache_lock:
        entry = _cache.get(url)
    if entry is not None and not refresh and now - entry[0] < settings.oidc_discovery_cache_seconds:
        return entry[1]
    # Fetched outside the lock: a slow provider must not hold up the other providers.
    data = _get_json(url, settings)
    with _cache_lock:
        _cache[url] = (now, data)
    return data


def _is_http_url(value: object) -> TypeGuard[str]:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def provider_metadata(provider: OidcProvider, settings: Settings) -> dict[str, Any]:
    """The provider's discovery document, checked to be the configured issuer's."""
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    metadata = _cached_json(url, settings)
    issuer = metadata.get("issuer")
    # OpenID Connect Discovery 4.3: the document's issuer must be the one asked for
    # (a trailing slash aside: Auth0 publishes "https://tenant/" and people type both).
    if not isinstance(issuer, str) or issuer.rstrip("/") != provider.issuer.rstrip("/"):
        raise IdentityProviderInvalidResponse(reason="the discovery document's issuer differs")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not _is_http_url(metadata.get(key)):
            raise IdentityProviderInvalidResponse(reason=f"discovery document without {key}")
    return metadata


# --- the ID token ---------------------------------------------------------------------


def verify_id_token(
    id_token: str,
    *,
    key_set: KeySet,
    algorithms: list[str],
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None,
    now: int | None = None,
) -> dict[str, Any]:
    """The claims of ``id_token`` once its signature, issuer, audience, expiry and nonce
    are right; ``InvalidKeyIdError`` is let through so the caller can refresh the keys."""
    try:
        token = jwt.decode(
            id_token,
            key_set,
            algorithms=algorithms,
            registry=JWSRegistry(algorithms=algorithms, strict_check_header=False),
        )
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError) as exc:
        raise IdentityProviderInvalidResponse(reason=f"ID token: {type(exc).__name__}") from exc
    params: dict[str, Any] = {"nonce": nonce, "client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "values": [issuer]},
            "aud": {"essential": True, "values": [client_id]},
            "sub": {"essential": True},
            "nonce": {"essential": True},
        },
        params,
    )
    try:
        claims.validate(now=now, leeway=LEEWAY_SECONDS)
    except (JoseError, ValueError, TypeError) as exc:
        raise IdentityProviderInvalidResponse(reason=f"ID token: {exc}") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        raise IdentityProviderInvalidResponse(reason="ID token: bad sub")
    return dict(claims)


def _signing_algorithms(metadata: dict[str, Any]) -> list[str]:
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [alg for alg in offered if alg in ASYMMETRIC_ALGORITHMS]
    if not algorithms:
        raise IdentityProviderInvalidResponse(reason="no asymmetric ID token algorithm")
    return algorithms


def _key_set(jwks_uri: str, settings: Settings, *, refresh: bool = False) -> KeySet:
    try:
        return KeySet.import_key_set(_cached_json(jwks_uri, settings, refresh=refresh))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise IdentityProviderInvalidResponse(reason="unusable JWKS") from exc


def _verified_claims(
    id_token: str,
    *,
    provider: OidcProvider,
    metadata: dict[str, Any],
    nonce: str,
    access_token: str | None,
    settings: Settings,
) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "algorithms": _signing_algorithms(metadata),
        "issuer": metadata["issuer"],
        "client_id": provider.client_id,
        "nonce": nonce,
        "access_token": access_token,
    }
    jwks_uri = metadata["jwks_uri"]
    try:
        return verify_id_token(id_token, key_set=_key_set(jwks_uri, settings), **arguments)
    except InvalidKeyIdError:
        pass
    fresh = _key_set(jwks_uri, settings, refresh=True)
    try:
        return verify_id_token(id_token, key_set=fresh, **arguments)
    except InvalidKeyIdError as exc:
        raise IdentityProviderInvalidResponse(reason="ID token signed by an unknown key") from exc


# --- the login ------------------------------------------------------------------------


def _oauth_client(
    provider: OidcProvider, metadata: dict[str, Any], *, redirect_uri: str
) -> OAuth2Session:
    secret = provider.client_secret.get_secret_value() if provider.client_secret else None
    if secret is None:
        auth_method = "none"
    else:
        supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        # client_secret_basic is the default of the specification; some providers
        # accept only client_secret_post.
        auth_method = (
            "client_secret_post"
            if "client_secret_basic" not in supported and "client_secret_post" in supported
            else "client_secret_basic"
        )
    return OAuth2Session(
        client_id=provider.client_id,
        client_secret=secret,
        scope=provider.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
    )


def begin_login(provider: OidcProvider, *, redirect_uri: str, settings: Settings) -> LoginStart:
    """The authorization URL (code flow, PKCE S256, nonce) and the values to keep."""
    metadata = provider_metadata(provider, settings)
    state = generate_token(32)
    nonce = generate_token(32)
    # RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~].
    code_verifier = generate_token(64)
    with _oauth_client(provider, metadata, redirect_uri=redirect_uri) as client:
        url, _state = client.create_authorization_url(
            metadata["authorization_endpoint"],
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
        )
    return LoginStart(authorization_url=url, state=state, nonce=nonce, code_verifier=code_verifier)


def _email_verified(value: object) -> bool:
    # A JSON boolean; a few providers (AWS Cognito) send the string "true".
    return value is True or value == "true"


def complete_login(
    provider: OidcProvider,
    *,
    code: str,
    nonce: str,
    code_verifier: str,
    redirect_uri: str,
    settings: Settings,
) -> ProviderIdentity:
    """Exchange the code (with the PKCE verifier), verify the ID token, and say who it is.

    The e-mail and its ``email_verified`` come from the ID token, or, when it has none,
    from the userinfo endpoint, trusted only when its ``sub`` is the token's.
    """
    metadata = provider_metadata(provider, settings)
    timeout = settings.oidc_http_timeout_seconds
    with _oauth_client(provider, metadata, redirect_uri=redirect_uri) as client:
        try:
            token = client.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                timeout=timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise IdentityProviderUnavailable(reason=type(exc).__name__) from exc
        except (OAuthError, requests.RequestException, ValueError, KeyError) as exc:
            raise IdentityProviderInvalidResponse(reason=f"code exchange: {exc}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise IdentityProviderInvalidResponse(reason="no ID token in the token response")
        access_token = token.get("access_token")
        claims = _verified_claims(
            id_token,
            provider=provider,
            metadata=metadata,
            nonce=nonce,
            access_token=access_token if isinstance(access_token, str) else None,
            settings=settings,
        )
        profile: dict[str, Any] = dict(claims)
        userinfo_endpoint = metadata.get("userinfo_endpoint")
        if "email_verified" not in claims and _is_http_url(userinfo_endpoint):
            profile.update(
                _userinfo(client, userinfo_endpoint, subject=claims["sub"], timeout=timeout)
            )
    email = profile.get("email")
    name = profile.get("name")
    return ProviderIdentity(
        provider=provider.name,
        subject=claims["sub"],
        email=email if isinstance(email, str) else None,
        email_verified=_email_verified(profile.get("email_verified")),
        full_name=name if isinstance(name, str) else "",
    )


def _userinfo(
    client: OAuth2Session, endpoint: str, *, subject: str, timeout: float
) -> dict[str, Any]:
    try:
        response = client.get(endpoint, timeout=timeout)
        data = response.json() if response.status_code == 200 else None
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise IdentityProviderUnavailable(reason=type(exc).__name__) from exc
    except (requests.RequestException, ValueError):
        data = None
    # OpenID Connect Core 5.3.2: userinfo whose sub differs from the ID token's is
    # someone else's and must not be used.
    if not isinstance(data, dict) or data.get("sub") != subject:
        return {}
    return {key: data[key] for key in ("email", "email_verified", "name") if key in data}
