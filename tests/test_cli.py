"""The installed ``finops`` command against the reference backend on a loopback port: health,
list, approve, configure and the global options, each exit status, piped and on a terminal."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest

import finops_cli
from reference_backend import ReferenceBackend
from reference_backend.__main__ import DEMO_DATA
from tests.cli_support import KEY, Finops, backend, finops

__all__ = ["backend", "finops"]  # the fixtures this module uses

RESOURCES = DEMO_DATA["resources"]


def test_help_lists_every_command_and_the_exit_statuses(finops: Finops) -> None:
    done = finops("--help")  # the installed console script
    assert done.returncode == 0
    for command in ("configure", "health", "push", "list", "approve"):
        assert f"  {command} " in done.stdout
    assert "Exit statuses:\n    0    all well" in done.stdout
    assert "\n    5    bad input: nothing was sent\n" in done.stdout


def help_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """``finops ARGS --help`` run in this process (the same code as the script, faster)."""
    assert finops_cli.main([*args, "--help"]) == 0
    return capsys.readouterr().out


def test_every_command_has_help_and_no_option_takes_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("", "configure", "health", "push", "list", "approve"):
        text = help_of(capsys, *filter(None, [command]))
        assert "Usage: finops" in text
        for word in ("--api-key", "--key", "--token", "--password", "--secret"):
            assert word not in text
    assert "Approve or reject a cost optimization" in help_of(capsys, "approve")  # the spec's summary
    assert "budget-forecasts" in help_of(capsys, "push")
    assert finops_cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("finops, version ")


def test_health_ok_exits_0(finops: Finops) -> None:
    done = finops("health")
    assert done.returncode == 0, done.stderr
    assert "yes" in done.stdout
    assert "accepted" in done.stdout
    assert "closed" in done.stdout  # the breaker
    assert " ms" in done.stdout
    status, screen = finops.on_pty("health")
    assert status == 0
    assert "healthy" in screen
    assert "accepted" in screen


def test_health_with_a_refused_key_exits_6(finops: Finops) -> None:
    done = finops("health", env={"FINOPS_API_KEY": "sk-wrong-key"})
    assert done.returncode == 6
    assert "refused (401)" in done.stdout
    assert "sk-wrong-key" not in done.stdout + done.stderr


def test_health_of_a_backend_that_is_down_exits_1(finops: Finops, backend: ReferenceBackend) -> None:
    backend.set_health_status("down")
    done = finops("health")
    assert done.returncode == 1
    assert "no (unhealthy)" in done.stdout


def test_health_of_nothing_listening_exits_1(finops: Finops) -> None:
    done = finops("--url", "http://127.0.0.1:9", "--timeout", "2", "health")
    assert done.returncode == 1
    assert "unreachable" in done.stdout


def test_a_bad_setting_exits_6_naming_it(finops: Finops) -> None:
    done = finops("health", env={"FINOPS_AUTH_TYPE": "barer"})
    assert done.returncode == 6
    assert "FINOPS_AUTH_TYPE" in done.stderr
    assert "did you mean 'bearer'" in done.stderr
    missing = finops("--profile", "nope", "health")
    assert missing.returncode == 6
    assert "profile 'nope'" in missing.stderr


def test_list_piped_is_ndjson_and_follows_pages(finops: Finops, backend: ReferenceBackend) -> None:
    many = [{**RESOURCES[1], "resourceId": f"vol-{n:04}"} for n in range(250)]
    assert backend.add_items("resources", many) == []
    done = finops("list", "resources")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["resourceId"] for r in rows] == [f"vol-{n:04}" for n in range(250)]
    assert backend.stats().requests_by_operation["get_resources"] == 3  # pages of 100


def test_list_filters_caps_and_formats(finops: Finops, backend: ReferenceBackend) -> None:
    assert backend.add_items("resources", RESOURCES) == []
    only = finops("list", "resources", "--region", "eu-west-1", "-o", "json")
    assert [r["resourceId"] for r in json.loads(only.stdout)] == ["vol-0fedcba987650002"]
    capped = finops("list", "resources", "--max", "1")
    assert len(capped.stdout.splitlines()) == 1
    table = list(csv.DictReader(io.StringIO(finops("list", "resources", "-o", "csv").stdout)))
    assert table[0]["resourceId"] == RESOURCES[0]["resourceId"]
    assert json.loads(table[0]["tags"]) == RESOURCES[0]["tags"]  # nested fields as JSON columns
    wrong = finops("list", "resources", "--severity", "HIGH")
    assert wrong.returncode == 2
    assert "--severity does not filter resources" in wrong.stderr
    assert finops("list", "nothing").returncode == 2


def test_list_on_a_terminal_is_a_table(finops: Finops, backend: ReferenceBackend) -> None:
    assert backend.add_items("resources", RESOURCES) == []
    status, screen = finops.on_pty("list", "resources", env={"COLUMNS": "400"})
    assert status == 0
    assert "───" in screen  # the rule under a rich table's header
    assert "resourceId" in screen
    assert "i-0a1b2c3d4e5f60001" in screen
    assert "2 item(s)" in screen


def test_approve_and_reject(finops: Finops, backend: ReferenceBackend) -> None:
    assert backend.add_items("optimizations", DEMO_DATA["optimizations"]) == []
    status, screen = finops.on_pty("approve", "opt-0001", "--comment", "go")
    assert status == 0, screen
    assert "APPROVED" in screen
    assert "comment" in screen
    rejected = finops("approve", "opt-0002", "--reject")
    assert rejected.returncode == 0, rejected.stderr
    assert json.loads(rejected.stdout)["status"] == "REJECTED"
    missing = finops("approve", "opt-missing")
    assert missing.returncode == 1
    assert "404" in missing.stderr


def test_approve_honours_dry_run_from_the_option_and_the_environment(finops: Finops, backend: ReferenceBackend) -> None:
    assert backend.add_items("optimizations", DEMO_DATA["optimizations"]) == []
    for args, env in ((["--dry-run"], {}), ([], {"FINOPS_DRY_RUN": "1"})):
        done = finops("approve", "opt-0001", "--reject", *args, env=env)
        assert done.returncode == 0
        assert 'dry run: would send POST /api/optimizations/{optimizationId}/approve {"approved":false}' in done.stdout
    assert backend.stats().requests_by_operation.get("approve_optimization", 0) == 0


def test_a_profile_chosen_by_option_supplies_url_and_key(finops: Finops) -> None:
    (finops.home / "config").write_text(f"[profile ci]\nurl = {finops.backend.url}\n")
    (finops.home / "credentials").write_text(f"[ci]\napi_key = {KEY}\n")
    (finops.home / "credentials").chmod(0o600)
    unset = {"FINOPS_API_URL": "", "FINOPS_API_KEY": ""}
    assert finops("--profile", "ci", "health", env=unset).returncode == 0
    assert finops("health", env={**unset, "FINOPS_PROFILE": "ci"}).returncode == 0


def test_a_readable_credentials_file_warns(finops: Finops) -> None:
    (finops.home / "credentials").write_text(f"[default]\napi_key = {KEY}\n")
    (finops.home / "credentials").chmod(0o644)
    done = finops("health", env={"FINOPS_API_KEY": ""})
    assert done.returncode == 0
    assert "too open" in done.stderr
    assert KEY not in done.stderr


def test_debug_logs_on_stderr_with_the_key_redacted(finops: Finops) -> None:
    done = finops("--debug", "health")
    assert done.returncode == 0
    assert "resilience" in done.stderr
    assert KEY not in done.stderr


def test_configure_writes_a_profile_with_the_secret_hidden_and_0600(finops: Finops) -> None:
    secret = KEY  # typed in: the key the backend takes
    dialog = [
        ("API URL", f"{finops.backend.url}\n".encode()),
        ("Auth type", b"api_key\n"),
        ("API key", secret.encode() + b"\n"),
    ]
    status, screen = finops.on_pty("--profile", "lab", "configure", dialog=dialog)
    assert status == 0, screen
    assert secret not in screen  # hidden input: never echoed
    credentials = finops.home / "credentials"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert f"api_key = {secret}" in credentials.read_text()
    assert "[profile lab]" in (finops.home / "config").read_text()
    unset = {"FINOPS_API_URL": "", "FINOPS_API_KEY": ""}
    assert finops("--profile", "lab", "health", env=unset).returncode == 0
    # a second profile keeps the first
    dialog[2] = ("API key", b"other\n")
    assert finops.on_pty("--profile", "other", "configure", dialog=dialog)[0] == 0
    assert "[lab]" in credentials.read_text()
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600


def test_configure_creates_the_credentials_file_0600_whatever_the_umask(finops: Finops, tmp_path: Path) -> None:
    dialog = [("API URL", b"https://x.example\n"), ("Auth type", b"basic\n"), ("User", b"ada\n"), ("Password", b"pw\n")]
    status, _ = finops.on_pty("configure", dialog=dialog, env={"FINOPS_SHARED_CREDENTIALS_FILE": str(tmp_path / "c")})
    assert status == 0
    assert stat.S_IMODE((tmp_path / "c").stat().st_mode) == 0o600
    assert "user = ada" in (tmp_path / "c").read_text()
