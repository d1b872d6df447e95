"""Where settings come from: explicit values, then the environment, then the dotenv file.

`Settings` reads them itself (not through pydantic-settings, which cost a cold start more
than the reading is worth), so these pin the behaviour it had: names match without regard
to case, a dotenv file only fills what the environment leaves unset, a variable without a
value counts as unset, and a value given in code wins over both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import config
from orchestrator.config import ConfigError, Settings, Tone


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / ".env"
    monkeypatch.setattr(config, "ENV_FILE", path)
    monkeypatch.setenv("ORCHESTRATOR_DATA_DIR", str(tmp_path))
    return path


def test_the_dotenv_file_fills_what_the_environment_leaves_unset(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file.write_text(
        'export DISCORD_GUILD_IDS="1, 2"\norchestrator_tone=plain\nGITHUB_TOKEN=from-file\n'
        "ORCHESTRATOR_DIGEST_HOUR=7\nDISCORD_PUBLIC_KEY\n# a comment\nNOT_A_SETTING=1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("github_token", "from-env")
    settings = Settings()
    assert settings.discord_guild_ids == ["1", "2"]
    assert settings.tone is Tone.PLAIN  # lower-case name in the file
    assert settings.github_token is not None
    assert settings.github_token.get_secret_value() == "from-env"  # the environment wins
    assert settings.digest_hour == 7
    assert settings.discord_public_key is None  # a name without a value is unset
    assert {"tone", "digest_hour", "github_token"} <= settings.explicit
    assert "discord_public_key" not in settings.explicit


def test_explicit_values_win_over_the_environment_and_the_file(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file.write_text("ORCHESTRATOR_TONE=plain\n", encoding="utf-8")
    monkeypatch.setenv("ORCHESTRATOR_DIGEST_HOUR", "7")
    settings = Settings(ORCHESTRATOR_TONE="playful", ORCHESTRATOR_DIGEST_HOUR=3)
    assert (settings.tone, settings.digest_hour) == (Tone.PLAYFUL, 3)
    assert Settings(digest_hour=4).digest_hour == 4  # by field name too


def test_no_file_means_the_environment_alone(env_file: Path) -> None:
    assert not env_file.exists()
    assert Settings().tone is Tone.PLAYFUL


def test_values_are_validated_and_named_by_their_variable(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_DIGEST_HOUR", "25")
    monkeypatch.setenv("ORCHESTRATOR_PROBE_INTERVAL", "soon")
    with pytest.raises(ConfigError) as refused:
        Settings()
    assert refused.value.problems == [
        "ORCHESTRATOR_PROBE_INTERVAL must be a whole number of at least 30",
        "ORCHESTRATOR_DIGEST_HOUR must be a whole number from 0 to 23",
    ]  # every one at once, named by its variable, never echoing a value
    monkeypatch.delenv("ORCHESTRATOR_PROBE_INTERVAL")
    monkeypatch.setenv("ORCHESTRATOR_DIGEST_HOUR", "5")
    monkeypatch.setenv("ORCHESTRATOR_API_BASE_PATH", "dev/")
    monkeypatch.setenv("DISCORD_COMMAND_ACCESS", '{"status": {"roles": ["1"]}}')
    settings = Settings()
    assert settings.api_base_path == "/dev"
    assert settings.discord_command_access == {"status": {"roles": ["1"]}}
    assert Settings(ORCHESTRATOR_API_BASE_PATH="/").api_base_path == "/"


def test_a_variable_set_to_nothing_is_unset(
    env_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ORCHESTRATOR_RECONCILE_AFTER=` (a template's empty parameter, a shell's `export X=`)
    means not configured: the default applies, and a value further down (the file) still
    counts, rather than an empty string failing validation."""
    env_file.write_text("ORCHESTRATOR_DIGEST_HOUR=7\n", encoding="utf-8")
    monkeypatch.setenv("ORCHESTRATOR_RECONCILE_AFTER", "")
    monkeypatch.setenv("ORCHESTRATOR_DIGEST_HOUR", "")
    settings = Settings()
    default = config.FIELDS["reconcile_after"].default_value()
    assert settings.reconcile_after == default
    assert settings.digest_hour == 7  # the empty variable does not hide the file's value
    assert "reconcile_after" not in settings.explicit


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("ORCHESTRATOR_ENV", "staging", "must be one of `dev`, `test`, `prod`"),
        ("ORCHESTRATOR_SCHEDULER", "sometimes", "must be one of `on`, `off`"),
        ("ORCHESTRATOR_SHUTDOWN_GRACE", "-1", "must be a number of at least 0"),
        ("ORCHESTRATOR_BODY_TIMEOUT", "0", "must be a number above 0"),
        ("ORCHESTRATOR_BODY_TIMEOUT", "nan", "must be a number above 0"),
        ("ORCHESTRATOR_BODY_TIMEOUT", "inf", "must be a number above 0"),  # no deadline at all
        ("ORCHESTRATOR_HEADER_TIMEOUT", "1e400", "must be a number above 0"),
        ("ORCHESTRATOR_BODY_BUDGET_BYTES", "1000", "must be a whole number of at least 25000000"),
        ("ORCHESTRATOR_DIGEST_HOUR", "7.5", "must be a whole number from 0 to 23"),
        ("ORCHESTRATOR_DIGEST_HOUR", "-1", "must be a whole number from 0 to 23"),
        ("GITHUB_HOOK_ID", "0", "must be a whole number of at least 1"),
        ("GITHUB_HOOK_REPO", "not a repo", "must be `owner/name`"),
        ("GITHUB_HOOK_ORG", "-leading-dash", "must be an organisation's login"),
        ("DISCORD_COMMAND_ACCESS", "{not json", 'must be JSON like {"status": {"roles": ["123"]}}'),
        ("DISCORD_COMMAND_ACCESS", '{"deploy": {"users": 1}}', "must be JSON like"),
        ("DISCORD_COMMAND_ACCESS", '{"deploy": {"users": [1]}}', "must be JSON like"),
        ("DISCORD_COMMAND_ACCESS", '["deploy"]', "must be JSON like"),
        ("DISCORD_COMMAND_ACCESS", "[" * 100_000 + "]" * 100_000, "must be JSON like"),
    ],
)
def test_a_value_that_cannot_work_is_named_not_echoed(
    env_file: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        Settings()
    [said] = refused.value.problems
    assert said.startswith(f"{variable} {problem}")
    assert value not in said.removeprefix(f"{variable} {problem}")


def test_values_given_in_code_are_read_like_the_environment_s(env_file: Path) -> None:
    """`load_settings(...)` takes values as text (as a variable would hold them) or as the
    setting holds them; both give the same settings."""
    as_text = Settings(
        ORCHESTRATOR_SHUTDOWN_GRACE="2.5",
        ORCHESTRATOR_PROBE_INTERVAL=" 60 ",
        DISCORD_GUILD_IDS=" 1 , 2 ,",
        GITHUB_WEBHOOK_SECRET="old-secret , new-secret",
        ORCHESTRATOR_ENV="TEST",
        ORCHESTRATOR_SCHEDULER="Off",
        GITHUB_HOOK_ID="7",
        ORCHESTRATOR_RECONCILE_AFTER="600.0",  # a template's Number parameter may say so
        ORCHESTRATOR_BODY_BUDGET_BYTES="64_000_000",  # as the source writes it
    )
    as_values = Settings(
        shutdown_grace=2.5,
        probe_interval=60,
        discord_guild_ids=["1", "2"],
        github_webhook_secret=[config.Secret("old-secret"), "new-secret"],
        env=config.Env.TEST,
        scheduler="off",
        github_hook_id=7,
        reconcile_after=600.0,
        body_budget_bytes=64_000_000,
    )
    assert as_text == as_values
    assert (as_text.shutdown_grace, as_text.probe_interval, as_text.github_hook_id) == (2.5, 60, 7)
    assert (as_text.reconcile_after, as_text.body_budget_bytes) == (600, 64_000_000)
    assert type(as_values.reconcile_after) is int
    assert [s.get_secret_value() for s in as_text.github_webhook_secret] == [
        "old-secret",
        "new-secret",
    ]
    with pytest.raises(ConfigError, match="ORCHESTRATOR_DIGEST_HOUR must be a whole number"):
        Settings(digest_hour=True)  # a flag is not an hour (though `True == 1`)
    with pytest.raises(ConfigError, match="DISCORD_GUILD_IDS must be a comma-separated list"):
        Settings(discord_guild_ids=[1, 2])


def test_a_blank_value_leaves_an_optional_setting_unset(env_file: Path) -> None:
    """The template passes an unused parameter as an empty variable: not configured."""
    settings = Settings(GITHUB_HOOK_REPO="  ", GITHUB_HOOK_ID="", ORCHESTRATOR_PUBLIC_URL=None)
    assert (settings.github_hook_repo, settings.github_hook_id, settings.public_url) == (
        None,
        None,
        None,
    )
    with pytest.raises(ConfigError, match="ORCHESTRATOR_DIGEST_HOUR"):
        Settings(ORCHESTRATOR_DIGEST_HOUR=" ")  # a setting with a default is not optional


def test_an_empty_secret_is_not_a_credential(env_file: Path) -> None:
    settings = Settings(
        GITHUB_APP_ID="1", GITHUB_APP_INSTALLATION_ID="2", GITHUB_APP_PRIVATE_KEY=config.Secret("")
    )
    assert not settings.has_github_app and not settings.has_github_credentials


def test_secrets_never_show_themselves(env_file: Path) -> None:
    settings = Settings(GITHUB_TOKEN="ghp_supersecretvalue", DISCORD_BOT_TOKEN="bot-secret-1")
    shown = f"{settings!r} {settings.github_token} {settings.discord_bot_token!r}"
    assert "supersecretvalue" not in shown and "bot-secret-1" not in shown
    assert settings.secret_values() == ["bot-secret-1", "ghp_supersecretvalue"]


def test_replace_changes_a_copy_and_counts_the_change_as_given(env_file: Path) -> None:
    settings = Settings()
    changed = settings.replace(digest_channel_id="123")
    assert (settings.digest_channel_id, changed.digest_channel_id) == (None, "123")
    assert "digest_channel_id" in changed.explicit - settings.explicit
    assert changed != settings and changed.replace(digest_channel_id=None) == settings
    with pytest.raises(TypeError, match="not settings: digest_chanel_id"):
        settings.replace(digest_chanel_id="123")
