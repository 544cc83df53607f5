"""Linking a provider identity to an account: link first, verified e-mail only, else new."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from admitone.accounts import service as accounts
from admitone.accounts.errors import InvalidCredentials
from admitone.accounts.models import User
from admitone.accounts.oidc.errors import (
    IdentityAccountDisabled,
    IdentityEmailMissing,
    IdentityEmailNotVerified,
)
from admitone.accounts.oidc.models import IdentityLink
from admitone.accounts.oidc.service import ProviderIdentity, sign_in_with_identity
from admitone.accounts.passwords import verify_password
from admitone.accounts.verification import mark_email_verified
from admitone.config import Settings
from admitone.errors import InvalidToken
from tests.helpers import PASSWORD


def _identity(
    email: str | None = "ada@example.com",
    *,
    verified: bool = True,
    subject: str | None = None,
    provider: str = "mock",
) -> ProviderIdentity:
    return ProviderIdentity(
        provider=provider,
        subject=subject or f"sub-{uuid.uuid4().hex}",
        email=email,
        email_verified=verified,
        full_name="Ada Lovelace",
    )


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_new_person_gets_an_account_without_a_usable_password(session: Session) -> None:
    identity = _identity("New.Person@Example.com")

    result = sign_in_with_identity(session, identity=identity)

    assert result.found_by == "created"
    assert result.user.email == "new.person@example.com"
    assert result.user.full_name == "Ada Lovelace"
    # No password signs in to it, not even an empty one, until "forgot password".
    assert not verify_password(result.user.password_hash, "")
    assert not verify_password(result.user.password_hash, result.user.password_hash)
    with pytest.raises(InvalidCredentials):
        accounts.authenticate(session, email="new.person@example.com", password=PASSWORD)
    link = session.scalar(select(IdentityLink))
    assert link is not None
    assert (link.provider, link.subject, link.user_id) == ("mock", identity.subject, result.user.id)


def test_a_verified_email_links_the_existing_account(session: Session) -> None:
    existing = accounts.register_user(session, email="ada@example.com", password=PASSWORD)
    mark_email_verified(existing)

    result = sign_in_with_identity(session, identity=_identity("ADA@example.com"))

    assert result.found_by == "email"
    assert result.user.id == existing.id
    assert _count(session, User) == 1
    # The password still works: linking adds a way in, it does not replace one.
    assert accounts.authenticate(session, email="ada@example.com", password=PASSWORD) == existing


def test_an_account_registered_by_someone_else_loses_their_password_and_logins(
    session: Session, settings: Settings
) -> None:
    """Someone registers the victim's address first (never verified), keeps a login
    open, then the owner signs in through a provider that verified the address: the
    registrant's password and login end, the address is now verified."""
    squatted = accounts.register_user(session, email="ada@example.com", password=PASSWORD)
    tokens = accounts.start_session(session, user=squatted, settings=settings)
    assert squatted.email_verified_at is None

    result = sign_in_with_identity(session, identity=_identity("ada@example.com"))

    assert result.user.id == squatted.id and result.found_by == "email"
    assert result.user.email_verified_at is not None
    with pytest.raises(InvalidCredentials):
        accounts.authenticate(session, email="ada@example.com", password=PASSWORD)
    with pytest.raises(InvalidToken):
        accounts.user_for_access_token(session, token=tokens.access_token, settings=settings)


def test_an_unverified_email_never_links_an_existing_account(session: Session) -> None:
    accounts.register_user(session, email="ada@example.com", password=PASSWORD)

    with pytest.raises(IdentityEmailNotVerified):
        sign_in_with_identity(session, identity=_identity("ada@example.com", verified=False))

    assert _count(session, IdentityLink) == 0


def test_an_unverified_email_creates_no_account_either(session: Session) -> None:
    with pytest.raises(IdentityEmailNotVerified):
        sign_in_with_identity(session, identity=_identity("nobody@example.com", verified=False))

    assert _count(session, User) == 0
    assert _count(session, IdentityLink) == 0


@pytest.mark.parametrize("email", [None, "", "not-an-address"])
def test_no_usable_email_is_refused(session: Session, email: str | None) -> None:
    with pytest.raises(IdentityEmailMissing):
        sign_in_with_identity(session, identity=_identity(email))
    assert _count(session, User) == 0


def test_the_subject_link_finds_the_account_after_the_email_changed(session: Session) -> None:
    first = sign_in_with_identity(session, identity=_identity("ada@example.com", subject="s-1"))
    # Someone else registers the old address later; the provider now says another one,
    # not even verified: the link alone decides.
    accounts.register_user(session, email="other@example.com", password=PASSWORD)
    moved = _identity("other@example.com", verified=False, subject="s-1")

    again = sign_in_with_identity(session, identity=moved)

    assert again.found_by == "link"
    assert again.user.id == first.user.id
    assert again.user.email == "ada@example.com"
    assert _count(session, IdentityLink) == 1


def test_the_same_subject_at_another_provider_is_another_identity(session: Session) -> None:
    first = sign_in_with_identity(session, identity=_identity(subject="s-1", provider="one"))
    second = sign_in_with_identity(session, identity=_identity(subject="s-1", provider="two"))

    # Same verified address: the same account, reached through two links.
    assert second.found_by == "email"
    assert second.user.id == first.user.id
    assert _count(session, IdentityLink) == 2


def test_a_disabled_account_is_refused_by_link_and_by_email(session: Session) -> None:
    linked = sign_in_with_identity(session, identity=_identity("ada@example.com", subject="s-1"))
    other = accounts.register_user(session, email="bob@example.com", password=PASSWORD)
    linked.user.is_active = False
    other.is_active = False
    session.flush()

    with pytest.raises(IdentityAccountDisabled):
        sign_in_with_identity(session, identity=_identity("ada@example.com", subject="s-1"))
    with pytest.raises(IdentityAccountDisabled):
        sign_in_with_identity(session, identity=_identity("bob@example.com"))
    assert _count(session, IdentityLink) == 1
