"""Named profiles: the config and credentials files, one resolution order for every option
(explicit argument, then environment, then profile, then default), and clear refusals that name
the file and line and never echo a secret, for the sync and async clients alike."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from finops_api_client import AsyncFinOpsClient, FinOpsClient

from resilience import (
    ClientConfig,
    ConfigurationError,
    InsecureCredentialsFileWarning,
    ProfileError,
    load_profile,
    profile_files,
)

SECRET = "sk-profile-canary-8Jq2"


class Files:
    """A config and a credentials file in a tmp folder, named by the environment it returns."""

    def __init__(self, folder: Path) -> None:
        self.config = folder / "config"
        self.credentials = folder / "credentials"
        self.env: dict[str, str] = {
            "FINOPS_CONFIG_FILE": str(self.config),
            "FINOPS_SHARED_CREDENTIALS_FILE": str(self.credentials),
        }

    def write(self, config: str = "", credentials: str | None = None, mode: int = 0o600) -> Files:
        self.config.write_text(config)
        if credentials is not None:
            fd = os.open(self.credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w") as f:
                f.write(credentials)
            os.chmod(self.credentials, mode)  # whatever the umask took away
        return self

    def config_of(self, **given: Any) -> ClientConfig:
        return ClientConfig.from_env("FINOPS", environ=self.env, **given)


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


FULL_PROFILE = """
[default]
url = https://default.example

[profile ops]
url = https://profile.example
auth_type = bearer
timeout = 7.5
retries = 5
dry_run = true
outbox = /var/spool/finops.db
shared_state = redis://localhost:6379/0
"""

#: (option, env variable and its value, explicit value, what the profile "ops" gives, the default)
URLS = ("https://env.example", "https://arg.example", "https://profile.example", "http://localhost")
OPTIONS = [
    pytest.param("base_url", "FINOPS_API_URL", *URLS, id="url"),
    pytest.param("auth_type", "FINOPS_AUTH_TYPE", "basic", "api_key", "bearer", "api_key", id="auth_type"),
    pytest.param("timeout", "FINOPS_TIMEOUT", "3", 11.0, 7.5, 30.0, id="timeout"),
    pytest.param("max_retries", "FINOPS_MAX_RETRIES", "2", 9, 5, None, id="retries"),
    pytest.param("dry_run", "FINOPS_DRY_RUN", "false", False, True, False, id="dry_run"),
]
ENV_PARSED = {"FINOPS_TIMEOUT": 3.0, "FINOPS_MAX_RETRIES": 2, "FINOPS_DRY_RUN": False}


@pytest.mark.parametrize(("option", "variable", "env_value", "explicit", "from_profile", "default"), OPTIONS)
def test_every_option_resolves_argument_then_environment_then_profile_then_default(
    files: Files, option: str, variable: str, env_value: str, explicit: object, from_profile: object, default: object
) -> None:
    files.write(FULL_PROFILE, f"[ops]\napi_key = ada:{SECRET}\n")  # a credential every auth type takes
    # the default, when no profile holds the option (the implicit default profile has only a url)
    if option != "base_url":
        assert getattr(files.config_of(), option) == default
    else:
        files.write("", None)
        assert files.config_of().base_url == default
        files.write(FULL_PROFILE, None)
    # the profile over the default
    assert getattr(files.config_of(profile="ops"), option) == from_profile
    # the environment over the profile
    files.env[variable] = env_value
    expected_env = ENV_PARSED.get(variable, env_value)
    assert getattr(files.config_of(profile="ops"), option) == expected_env
    # the explicit argument over the environment
    assert getattr(files.config_of(profile="ops", **{option: explicit}), option) == explicit


def test_credential_resolves_argument_then_environment_then_profile(files: Files) -> None:
    files.write("[profile ops]\n", f"[ops]\napi_key = {SECRET}\n")
    assert files.config_of().api_key is None  # no default profile: no credential
    assert files.config_of(profile="ops").api_key == SECRET
    files.env["FINOPS_API_KEY"] = "sk-from-env"
    assert files.config_of(profile="ops").api_key == "sk-from-env"
    assert files.config_of(profile="ops", api_key="sk-explicit").api_key == "sk-explicit"


@pytest.mark.parametrize(
    ("credentials", "auth_type", "api_key"),
    [
        pytest.param(f"api_key = {SECRET}", "api_key", SECRET, id="api_key"),
        pytest.param(f"token = {SECRET}", "bearer", SECRET, id="token-is-bearer"),
        pytest.param(f"user = ada\npassword = {SECRET}", "basic", f"ada:{SECRET}", id="user-password-is-basic"),
    ],
)
def test_the_kind_of_credential_sets_the_auth_type(
    files: Files, credentials: str, auth_type: str, api_key: str
) -> None:
    files.write("", f"[default]\n{credentials}\n")
    config = files.config_of()
    assert (config.auth_type, config.api_key, config.profile) == (auth_type, api_key, "default")
    assert SECRET not in repr(config)


def test_profile_chosen_by_argument_then_environment_then_default(files: Files) -> None:
    files.write("[default]\nurl = https://d.example\n[profile a]\nurl = https://a.example\n"
                "[profile b]\nurl = https://b.example\n")  # fmt: skip
    assert files.config_of().base_url == "https://d.example"
    files.env["FINOPS_PROFILE"] = "a"
    assert files.config_of().base_url == "https://a.example"
    assert files.config_of(profile="b").base_url == "https://b.example"


@pytest.mark.parametrize("client_class", [FinOpsClient, AsyncFinOpsClient])
async def test_the_clients_take_profile(
    files: Files, monkeypatch: pytest.MonkeyPatch, client_class: type[FinOpsClient] | type[AsyncFinOpsClient]
) -> None:
    files.write(FULL_PROFILE, f"[ops]\ntoken = {SECRET}\n")
    for name, value in files.env.items():
        monkeypatch.setenv(name, value)
    client = client_class(profile="ops")
    try:
        assert client.config.base_url == "https://profile.example"
        assert (client.config.auth_type, client.config.api_key) == ("bearer", SECRET)
        assert (client.config.timeout, client.config.max_retries, client.dry_run) == (7.5, 5, True)
    finally:
        result = client.close()
        if result is not None:
            await result


def test_outbox_and_shared_state_pass_on_to_a_config_that_has_them(files: Files) -> None:
    @attrs.frozen(slots=True, kw_only=True)
    class WithStores(ClientConfig):
        outbox: str | None = None
        shared_state: str | None = None

    files.write(FULL_PROFILE)
    config = WithStores.from_env("FINOPS", environ=files.env, profile="ops")
    assert isinstance(config, WithStores)
    assert (config.outbox, config.shared_state) == ("/var/spool/finops.db", "redis://localhost:6379/0")
    files.env["FINOPS_OUTBOX"] = "/tmp/other.db"
    again = WithStores.from_env("FINOPS", environ=files.env, profile="ops")
    assert isinstance(again, WithStores)
    assert again.outbox == "/tmp/other.db"
    # a config without such options reads them (checked) and ignores them
    assert files.config_of(profile="ops").profile == "ops"


def test_a_missing_profile_named_explicitly_is_refused_with_the_files_and_a_suggestion(files: Files) -> None:
    files.write("[profile prod]\nurl = https://p.example\n", "[staging]\napi_key = k\n")
    with pytest.raises(ProfileError) as caught:
        files.config_of(profile="prd")
    text = str(caught.value)
    assert str(files.config) in text
    assert str(files.credentials) in text
    assert "did you mean 'prod'" in text
    assert "prod, staging" in text
    files.env["FINOPS_PROFILE"] = "nope"
    with pytest.raises(ProfileError, match="from FINOPS_PROFILE"):
        files.config_of()
    assert isinstance(caught.value, ConfigurationError)


def test_no_files_and_no_profile_named_is_fine(files: Files) -> None:
    assert files.config_of().profile is None


@pytest.mark.parametrize(
    ("config", "credentials", "message", "line"),
    [
        pytest.param("[default]\nurl = https://x.example\ntimout = 3\n", None,
                     "unknown key 'timout' (did you mean 'timeout'?)", "config, line 3", id="config-typo"),
        pytest.param("", f"[default]\n\napi-key = {SECRET}\n",
                     "unknown key 'api-key' (did you mean 'api_key'?)", "credentials, line 3", id="credentials-typo"),
        pytest.param("[default]\n" + f"api_key = {SECRET}\n", None,
                     "api_key belongs in the credentials file", "config, line 2", id="secret-in-config"),
        pytest.param("[prod]\nurl = https://x.example\n", None,
                     "did you mean '[profile prod]'", "config, line 1", id="section-without-profile"),
        pytest.param("[default]\ntimeout = soon\n", None,
                     "timeout must be a positive number", "config, line 2", id="bad-timeout"),
        pytest.param("[default]\n\n\nretries = -1\n", None, "retries must be a whole number", "config, line 4",
                     id="bad-retries"),
        pytest.param("[default]\ndry_run = maybe\n", None, "dry_run must be one of", "config, line 2",
                     id="bad-dry-run"),
        pytest.param("", f"api_key = {SECRET}\n", "a setting before any [section] header", "credentials, line 1",
                     id="no-section"),
        pytest.param("", f"[default]\napi_key = a\n{SECRET}\n", "not a '[section]' header", "credentials, line 3",
                     id="not-key-value"),
        pytest.param("", f"[default]\napi_key = {SECRET}\napi_key = {SECRET}\n", "a key given twice",
                     "credentials, line 3", id="duplicate-key"),
        pytest.param("", f"[default]\napi_key = {SECRET}\ntoken = {SECRET}\n", "not both", "credentials, line 3",
                     id="two-credentials"),
        pytest.param("[default]\nauth_type = barer\n", None, "did you mean 'bearer'", "config, line 2",
                     id="bad-auth-type"),
        pytest.param("[default]\nurl = ftp://x.example\n", None, "absolute http(s) URL", "config, line 2",
                     id="bad-url"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_file_and_line_never_the_secret(
    files: Files, config: str, credentials: str | None, message: str, line: str
) -> None:
    files.write(config, credentials)
    with pytest.raises(ConfigurationError) as caught:
        files.config_of()
    text = f"{caught.value} {caught.value!r}"
    assert message in text
    assert line in text
    assert SECRET not in text


def test_a_credentials_file_others_can_read_warns_as_ssh_does(files: Files) -> None:
    files.write("", f"[default]\napi_key = {SECRET}\n", mode=0o644)
    with pytest.warns(InsecureCredentialsFileWarning, match=r"permissions 0644 .* too open") as caught:
        assert files.config_of().api_key == SECRET
    assert SECRET not in str(caught[0].message)
    files.write("", f"[default]\napi_key = {SECRET}\n", mode=0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        files.config_of()


def test_the_files_live_in_the_user_config_folder_unless_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    where = profile_files("FINOPS", "finops", environ={})
    assert (where.config, where.credentials) == (tmp_path / "finops" / "config", tmp_path / "finops" / "credentials")
    (tmp_path / "finops").mkdir()
    (tmp_path / "finops" / "config").write_text("[profile x]\nurl = https://x.example\n")
    profile = load_profile("x", prefix="FINOPS", app_name="finops", environ={})
    assert profile is not None
    assert profile.settings == {"url": "https://x.example"}
    named = profile_files("ACME", "acme", environ={"ACME_CONFIG_FILE": "~/a.ini"})
    assert named.config == Path("~/a.ini").expanduser()
