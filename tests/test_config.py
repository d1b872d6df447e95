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
from orchestrator.config import Settings, Tone


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
    assert {"tone", "digest_hour", "github_token"} <= settings.model_fields_set
    assert "discord_public_key" not in settings.model_fields_set


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
    with pytest.raises(ValueError, match="ORCHESTRATOR_DIGEST_HOUR"):
        Settings()
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
    default = Settings.model_fields["reconcile_after"].get_default(call_default_factory=True)
    assert settings.reconcile_after == default
    assert settings.digest_hour == 7  # the empty variable does not hide the file's value
    assert "reconcile_after" not in settings.model_fields_set
