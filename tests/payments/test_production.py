"""Issue 13: production never sells for free (the test provider is refused there)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from admitone.config import Settings

PRODUCTION = {"env": "production", "secret_key": "s" * 40}


def test_production_refuses_the_test_provider_by_default():
    with pytest.raises(ValidationError, match="ADMITONE_PAYMENT_PROVIDER is 'test'"):
        Settings(_env_file=None, **PRODUCTION)
    with pytest.raises(ValidationError, match="ADMITONE_UNSAFE_ALLOW_TEST_PAYMENTS_IN_PRODUCTION"):
        Settings(_env_file=None, payment_provider="test", **PRODUCTION)


def test_production_with_stripe_starts():
    settings = Settings(
        _env_file=None,
        payment_provider="stripe",
        stripe_secret_key="sk_live_x",
        stripe_webhook_secret="whsec_x",
        **PRODUCTION,
    )
    assert settings.payment_provider == "stripe"


def test_the_unsafe_setting_lets_a_staging_site_use_the_test_provider():
    settings = Settings(_env_file=None, unsafe_allow_test_payments_in_production=True, **PRODUCTION)
    assert settings.payment_provider == "test"


def test_development_and_tests_keep_the_test_provider():
    assert Settings(_env_file=None).payment_provider == "test"
    assert Settings(_env_file=None, env="test").payment_provider == "test"
