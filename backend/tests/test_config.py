import pytest

from kurz.config import ConfigError, Settings

SECRET = "kHXZWZn_XSeU7CWz3IoW8-AXQ1ZZb1h6qmSy3KbqaKeGDU2J"


def test_development_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert (settings.host, settings.port) == ("127.0.0.1", 5000)
    assert settings.base_url == "http://127.0.0.1:5000"
    assert settings.database_url is None
    assert settings.cookie_secure is False
    assert settings.rate_limits is True
    assert len(settings.secret_key) >= 32


def test_base_url_follows_host_and_port_unless_set() -> None:
    assert Settings.from_env({"KURZ_PORT": "8080"}).base_url == "http://127.0.0.1:8080"
    settings = Settings.from_env({"KURZ_BASE_URL": "https://s.example.com/"})
    assert settings.base_url == "https://s.example.com"


def test_production_needs_a_real_secret_and_defaults_to_secure_cookies() -> None:
    with pytest.raises(ConfigError, match="KURZ_SECRET_KEY"):
        Settings.from_env({"KURZ_ENV": "production"})
    with pytest.raises(ConfigError, match="KURZ_SECRET_KEY"):
        Settings.from_env({"KURZ_ENV": "production", "KURZ_SECRET_KEY": "short"})
    for guessable in ("x" * 40, "ab" * 20, "abcdefghijklmnopqrstuvwxyz0123456789", "changeme" * 5):
        with pytest.raises(ConfigError, match="KURZ_SECRET_KEY"):
            Settings.from_env({"KURZ_ENV": "production", "KURZ_SECRET_KEY": guessable})
    settings = Settings.from_env({"KURZ_ENV": "production", "KURZ_SECRET_KEY": SECRET})
    assert settings.cookie_secure is True
    overridden = Settings.from_env(
        {"KURZ_ENV": "production", "KURZ_SECRET_KEY": SECRET, "KURZ_COOKIE_SECURE": "false"}
    )
    assert overridden.cookie_secure is False


@pytest.mark.parametrize(
    "environ",
    [
        {"KURZ_ENV": "staging"},
        {"KURZ_PORT": "http"},
        {"KURZ_RATE_LIMITS": "maybe"},
        {"KURZ_COOKIE_SECURE": "sometimes"},
        {"KURZ_DB_POOL_MIN": "20", "KURZ_DB_POOL_MAX": "5"},
        {"KURZ_CLICK_ROLLUP_SECONDS": "0"},
        {"KURZ_CLICK_FLUSH_SECONDS": "soon"},
        {"KURZ_ALLOW_PRIVATE_TARGETS": "perhaps"},
        {"KURZ_REQUEST_HEAD_TIMEOUT": "0"},
        {"KURZ_MAX_CONNECTIONS": "0"},
    ],
)
def test_bad_values_are_refused_by_name(environ) -> None:
    with pytest.raises(ConfigError, match=next(iter(environ))):
        Settings.from_env(environ)


def test_email_verification_follows_mail_unless_set() -> None:
    assert Settings.from_env({}).require_email_verification is False
    with_mail = Settings.from_env({"KURZ_SMTP_URL": "smtp://mail.example.com:587"})
    assert with_mail.require_email_verification is True
    off = Settings.from_env(
        {"KURZ_SMTP_URL": "smtps://u:p@mail.example.com", "KURZ_REQUIRE_EMAIL_VERIFICATION": "no"}
    )
    assert off.require_email_verification is False
    assert "u:p" not in repr(off)  # the SMTP password stays out of logs


@pytest.mark.parametrize(
    "environ",
    [
        {"KURZ_REQUIRE_EMAIL_VERIFICATION": "true"},  # verification without mail
        {"KURZ_SMTP_URL": "mail.example.com"},
        {"KURZ_OIDC_ISSUER": "https://id.example.com", "KURZ_OIDC_CLIENT_ID": "kurz"},
    ],
)
def test_mail_and_sso_settings_that_cannot_work_refuse_to_start(environ) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(environ)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("KURZ_RATE_LIMITS", "rate_limits"),
        ("KURZ_CLICK_RECORDING", "click_recording"),
        ("KURZ_COOKIE_SECURE", "cookie_secure"),
        ("KURZ_ALLOW_PRIVATE_TARGETS", "allow_private_targets"),
        ("KURZ_WEBHOOKS_ALLOW_PRIVATE", "webhooks_allow_private"),
        ("KURZ_REQUIRE_EMAIL_VERIFICATION", "require_email_verification"),
    ],
)
def test_every_on_off_setting_reads_the_same_words(name, field) -> None:
    for word, expected in [("on", True), ("TRUE", True), ("1", True), ("yes", True)] + [
        ("off", False),
        ("False", False),
        ("0", False),
        ("no", False),
    ]:
        environ = {name: word, "KURZ_SMTP_URL": "smtp://mail.example.com"}  # verification needs it
        assert getattr(Settings.from_env(environ), field) is expected, (name, word)
    with pytest.raises(ConfigError, match=f"{name} must be on or off"):
        Settings.from_env({name: "maybe"})
