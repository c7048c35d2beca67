"""Reasons that say something, and command-line text that is not UTF-8 (issue 17, item 4).

A reason is counted in visible characters after NFKC, needs a letter or digit, and every
decision counts it the same way (domain.md §6). Python hands argv bytes that are not UTF-8 over
as lone surrogates (b"\\xff" becomes "\\udcff"); passed in-process here as such strings, and once
as real bytes to `python -m dispatcher`. Decisions refuse them as a recorded blocked attempt
(exit 2); other commands refuse them in one line (exit 1); file names take them as they are.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXED_NOW_TEXT, Cli, CliResult, populate_site
from tests.samples import LOCK_OK, OVERRIDE, PUBLISH_OK, RUN, write_run

SUNDAY = "2026-01-11T12:00:00Z"
REQUEST = "REP-20260111130000"  # Vienna time of SUNDAY
SICK_MONDAY = ("request-repair", "--week", "2026-W03", "--driver", "D001", "--type", "sick",
               "--days", "Mon", "--requester", "disp001")  # fmt: skip
ZERO_WIDTH = "\u200b" * 10
NINE_PADDED = "abcdefghi" + "\u200b\u2060\ufeff" * 3
BAD = "\udcff\udcfe bad reason text"  # what Python makes of b"\xff\xfe bad reason text"
BAD_SHOWN = "\\xff\\xfe bad reason text"  # how the audit trail holds it
TOO_SHORT = "Reason must be at least 10 characters"


def not_utf8(label: str, byte: str = "0xff") -> str:
    return f"{label} is not valid UTF-8 text (byte {byte}); check the terminal's encoding"


def _sunday(site: Cli) -> None:
    """Sunday before the week (the site built then), with an open sick call for Monday."""
    requested = site(*SICK_MONDAY)
    assert requested.stdout == f"{REQUEST}\n", requested.output


# The registry's decisions are in the tenant's chain, the global switch's in the platform's.
CHAIN_OF = {
    "user.add": "tenant",
    "user.disable": "tenant",
    "kill_switch.activate": "platform",
    "kill_switch.deactivate": "platform",
}


def _events(cli: Cli, chain: str = "site") -> list[dict[str, Any]]:
    result = cli("audit", "log", "--chain", chain, "--json", "-n", "100000")
    assert result.exit_code == 0, result.output
    events: list[dict[str, Any]] = json.loads(result.stdout)
    return events


def _all_events(cli: Cli) -> list[dict[str, Any]]:
    return [e for chain in ("site", "tenant", "platform") for e in _events(cli, chain)]


def _refused_and_recorded(
    cli: Cli, result: CliResult, message: str, action: str, check: str
) -> dict[str, Any]:
    """Exit 2 with the one Blocked line, the attempt the newest event, the chain intact."""
    assert (result.exit_code, result.stderr, result.stdout) == (2, f"Blocked: {message}\n", "")
    event = _events(cli, CHAIN_OF.get(action, "site"))[-1]
    assert (event["action"], event["outcome"]) == (action, "blocked")
    assert {
        k: v
        for k, v in event["detail"].items()
        if k not in ("seen", "session_login", "session_host")
    } == {
        "check": check,
        "message": message,
    }
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output
    return event


def _publish(cli: Cli) -> None:
    assert cli("publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0


# Each decision with a reason: (fixture, command line before --reason, action, check).
REASON_DECISIONS = {
    "publish": ("site", ("publish", RUN, "--approver", "disp001", "--role", "dispatcher",
                         *OVERRIDE), "publish", "reason_long_enough"),
    "lock": ("published", ("lock", RUN, "--approver", "ops001", "--role", "ops_lead",
                           *OVERRIDE), "lock", "reason_long_enough"),
    "apply-repair": ("sunday", ("apply-repair", REQUEST, "--approver", "disp001", "--role",
                                "dispatcher"), "repair.apply", "reason_long_enough"),
    "reject-repair": ("sunday", ("reject-repair", REQUEST, "--by", "ops001"),
                      "repair.reject", "reason_long_enough"),
    "kill-switch": ("site", ("kill-switch", "activate", "--by", "admin01"),
                    "kill_switch.activate", "reason_long_enough"),
    "site-set": ("site", ("site", "set", "shadow_only=true", "--by", "admin01"),
                 "site.update", "reason_long_enough"),
    "users-add": ("site", ("users", "add", "disp009", "--name", "Nina Neu", "--role",
                           "dispatcher", "--by", "admin01"), "user.add", "reason_long_enough"),
    "users-disable": ("site", ("users", "disable", "disp002", "--by", "admin01"),
                      "user.disable", "reason_long_enough"),
    "status-all-sites": ("site", ("status", "--all-sites", "--by", "admin01"),
                         "sites.view", "reason_long_enough"),
}  # fmt: skip


def _prepare(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, state: str) -> None:
    """The site as each decision needs it, built at the clock of its day (time never goes
    back in the audit trail: the Sunday cases are built on the Sunday)."""
    if state.startswith("sunday"):
        monkeypatch.setenv("DISPATCHER_NOW", SUNDAY)
    populate_site(cli, tmp_path)
    if state == "published":
        _publish(cli)
    elif state == "sunday":
        _sunday(cli)


@pytest.mark.parametrize("reason", [ZERO_WIDTH, NINE_PADDED], ids=["zero-width", "9-padded"])
@pytest.mark.parametrize("decision", list(REASON_DECISIONS))
def test_invisible_characters_do_not_make_a_reason_long_enough(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, decision: str, reason: str
) -> None:
    state, args, action, check = REASON_DECISIONS[decision]
    _prepare(cli, monkeypatch, tmp_path, state)
    site = cli
    result = site(*args, "--reason", reason)
    event = _refused_and_recorded(site, result, TOO_SHORT, action, check)
    assert event["reason"] == reason  # recorded as typed; only the count is normalised


def test_a_warn_override_of_invisible_characters_is_no_override(site: Cli) -> None:
    message = "WARN run requires an override reason"
    for override in (ZERO_WIDTH, NINE_PADDED, "\U0001f69a" * 12):
        result = site("publish", RUN, *PUBLISH_OK, "--override-reason", override)
        _refused_and_recorded(site, result, message, "publish", "warn_has_override")
    assert json.loads(site("show-run", RUN, "--json").stdout)["published"] is False
    _publish(site)
    locked = site("lock", RUN, *LOCK_OK, "--override-reason", ZERO_WIDTH)
    _refused_and_recorded(site, locked, message, "lock", "warn_has_override")


def test_a_reason_needs_visible_letters_or_digits_of_any_width(site: Cli) -> None:
    message = "Reason must contain letters or digits"
    punctuation = site("publish", RUN, "--approver", "disp001", "--role", "dispatcher",
                       "--reason", "!!!! ---- ????", *OVERRIDE)  # fmt: skip
    _refused_and_recorded(site, punctuation, message, "publish", "reason_long_enough")
    emoji = site("kill-switch", "activate", "--by", "admin01", "--reason", "\U0001f6a8" * 10)
    _refused_and_recorded(site, emoji, message, "kill_switch.activate", "reason_long_enough")
    # Visible letters in any width count, and the reason is stored as typed (stripped).
    fullwidth = "  Ｗｏｃｈｅ ｇｅｐｒüｆｔ  "
    result = site("publish", RUN, "--approver", "disp001", "--role", "dispatcher",
                  "--reason", fullwidth, "--override-reason", "Noch keine Basis\u00a0da")  # fmt: skip
    assert result.exit_code == 0, result.output
    event = _events(site)[-1]
    assert (event["outcome"], event["reason"]) == ("allowed", fullwidth.strip())
    assert event["detail"]["override_reason"] == "Noch keine Basis\u00a0da"


# --- text that is not UTF-8 -----------------------------------------------------------------------

# (fixture, command line, action, check, message, recorded field, recorded value)
NOT_UTF8_DECISIONS = {
    "publish --reason": ("site", ("publish", RUN, "--approver", "disp001", "--role",
        "dispatcher", "--reason", BAD, *OVERRIDE), "publish", "approval_given",
        not_utf8("Reason"), "reason", BAD_SHOWN),
    "publish --approver": ("site", ("publish", RUN, "--approver", "disp\udcff", "--role",
        "dispatcher", "--reason", "Week 2026-W03 reviewed", *OVERRIDE), "publish",
        "approval_given", not_utf8("Approver"), "actor_id", "disp\\xff"),
    "publish --override-reason": ("site", ("publish", RUN, *PUBLISH_OK, "--override-reason",
        BAD), "publish", "approval_given", not_utf8("Override reason"), "reason",
        "Week 2026-W03 reviewed"),
    "lock --reason": ("published", ("lock", RUN, "--approver", "ops001", "--role", "ops_lead",
        "--reason", BAD, *OVERRIDE), "lock", "approval_given", not_utf8("Reason"), "reason",
        BAD_SHOWN),
    "apply-repair --reason": ("sunday", ("apply-repair", REQUEST, "--approver", "disp001",
        "--role", "dispatcher", "--reason", BAD), "repair.apply", "approval_given",
        not_utf8("Reason"), "reason", BAD_SHOWN),
    "reject-repair --reason": ("sunday", ("reject-repair", REQUEST, "--by", "ops001",
        "--reason", BAD), "repair.reject", "text_is_utf8", not_utf8("Reason"), "reason",
        BAD_SHOWN),
    "reject-repair --by": ("sunday", ("reject-repair", REQUEST, "--by", "ops\udcf6",
        "--reason", "Driver is back at work"), "repair.reject", "text_is_utf8",
        not_utf8("User id", "0xf6"), "actor_id", "ops\\xf6"),
    "request-repair --notes": ("sunday-empty", (*SICK_MONDAY, "--notes", "called \udce4t 6"),
        "repair.request", "text_is_utf8",
        not_utf8("Notes", "0xe4"), "reason", "called \\xe4t 6"),
    "request-repair --requester": ("sunday-empty", (*SICK_MONDAY[:-1], "disp\udcff"),
        "repair.request", "text_is_utf8",
        not_utf8("Requester"), "actor_id", "disp\\xff"),
    "kill-switch activate --reason": ("site", ("kill-switch", "activate", "--by", "admin01",
        "--reason", BAD), "kill_switch.activate", "text_is_utf8", not_utf8("Reason"),
        "reason", BAD_SHOWN),
    "kill-switch deactivate --by": ("site", ("kill-switch", "deactivate", "--by",
        "adm\udcffin01", "--reason", "All clear after review"), "kill_switch.deactivate",
        "text_is_utf8", not_utf8("User id"), "actor_id", "adm\\xffin01"),
    "site set --reason": ("site", ("site", "set", "shadow_only=true", "--by", "admin01",
        "--reason", BAD), "site.update", "text_is_utf8", not_utf8("Reason"), "reason",
        BAD_SHOWN),
    "users add --name": ("site", ("users", "add", "disp009", "--name", "J\udcf6rg Neu",
        "--role", "dispatcher", "--by", "admin01", "--reason", "New dispatcher in Wien"),
        "user.add", "text_is_utf8", not_utf8("Name", "0xf6"), "reason",
        "New dispatcher in Wien"),
    "users add --reason": ("site", ("users", "add", "disp009", "--name", "Nina Neu",
        "--role", "dispatcher", "--by", "admin01", "--reason", BAD), "user.add",
        "text_is_utf8", not_utf8("Reason"), "reason", BAD_SHOWN),
    "users disable --by": ("site", ("users", "disable", "disp002", "--by", "admin\udcff",
        "--reason", "Left the company"), "user.disable", "text_is_utf8",
        not_utf8("User id"), "actor_id", "admin\\xff"),
    "status --all-sites --reason": ("site", ("status", "--all-sites", "--by", "admin01",
        "--reason", BAD), "sites.view", "text_is_utf8", not_utf8("Reason"), "reason",
        BAD_SHOWN),
}  # fmt: skip


@pytest.mark.parametrize("decision", list(NOT_UTF8_DECISIONS))
def test_audit_text_that_is_not_utf8_is_a_recorded_refusal(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, decision: str
) -> None:
    state, args, action, check, message, field, value = NOT_UTF8_DECISIONS[decision]
    _prepare(cli, monkeypatch, tmp_path, state)
    before = len(_all_events(cli))
    event = _refused_and_recorded(cli, cli(*args), message, action, check)
    assert event[field] == value
    assert len(_all_events(cli)) == before + 1


def test_a_refused_decision_changes_nothing_but_the_log(site: Cli) -> None:
    _refused_and_recorded(site, site("kill-switch", "activate", "--by", "admin01",
        "--reason", BAD), not_utf8("Reason"), "kill_switch.activate", "text_is_utf8")  # fmt: skip
    assert json.loads(site("kill-switch", "status", "--json").stdout)["effective"]["active"] is (
        False
    )
    _publish(site)  # the switch stayed off, the run is untouched


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (("show-run", "RUN-\udcff"), "RUN"),
        (("list-runs", "--week", "2026-W\udcff"), "--week"),
        (("audit", "log", "--actor", "disp\udcff"), "--actor"),
        (("--tenant", "LT\udcffS", "status"), "--tenant"),
        (
            (
                "kill-switch",
                "activate",
                "--by",
                "admin01",
                "--reason",
                "Security incident",
                "--scope",
                "glob\udcffal",
            ),
            "--scope",
        ),
        (
            (
                "site",
                "set",
                "shadow_only=tr\udcffue",
                "--by",
                "admin01",
                "--reason",
                "Back to shadow mode",
            ),
            "NAME=VALUE...",
        ),
        (
            ("users", "disable", "disp\udcff", "--by", "admin01", "--reason", "Left the company"),
            "ID",
        ),
        ((*SICK_MONDAY[:4], "D\udcff", *SICK_MONDAY[5:]), "--driver"),
        (("export", RUN, "--out", "roster.csv", "--by", "ops\udcff"), "--by"),
    ],
)
def test_other_text_that_is_not_utf8_is_one_line_and_records_nothing(
    site: Cli, args: tuple[str, ...], label: str
) -> None:
    before = _all_events(site)
    result = site(*args)
    assert (result.exit_code, result.stderr, result.stdout) == (
        1,
        f"Error: {not_utf8(label)}\n",
        "",
    )
    assert _all_events(site) == before


def test_check_names_the_field_and_records_nothing(site: Cli) -> None:
    before = _events(site)
    result = site("check", RUN, "--approver", "gh\udcffst", "--role", "dispatcher",
                  "--reason", "Week 2026-W03 reviewed", *OVERRIDE)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "Approver is not valid UTF-8 text (byte 0xff)" in result.stdout
    assert "Approver gh\\xffst is not a registered active user" in result.stdout
    as_json = site("check", RUN, "--approver", "gh\udcffst", "--json")
    report = json.loads(as_json.stdout)
    assert report["results"][4]["message"] == not_utf8("Approver")  # check 4, after state
    assert _events(site) == before


# --- file names take any bytes --------------------------------------------------------------------


def test_file_names_that_are_not_utf8_still_open_and_print_escaped(
    site: Cli, tmp_path: Path
) -> None:
    run_file = write_run(tmp_path / "woche\udcff.json")
    imported = site("import-run", str(run_file))
    assert imported.exit_code == 0, imported.output
    assert _events(site)[-1]["detail"]["file"] == "woche\\xff.json"
    out = tmp_path / "evidenz\udce4"
    exported = site("evidence", "export", RUN, "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert f"to {tmp_path}/evidenz\\xe4\n" in exported.stdout
    assert (out / "evidence.json").is_file()
    report = site("report", RUN, "--out", str(tmp_path / "bericht\udcff.html"))
    assert report.stdout == f"Wrote {tmp_path}/bericht\\xff.html ({RUN} v1)\n"
    assert site("audit", "verify").exit_code == 0


def test_a_database_file_name_that_is_not_utf8_opens(site: Cli, db_path: Path) -> None:
    odd = db_path.with_name("dispatcher\udcff.db")
    shutil.copyfile(db_path, odd)
    verified = site("--db", str(odd), "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert site("--db", str(odd), "publish", RUN, *PUBLISH_OK, *OVERRIDE).exit_code == 0
    assert json.loads(site("--db", str(odd), "show-run", RUN, "--json").stdout)["published"]


# --- a real process with real bytes ----------------------------------------------------------------


def _dispatcher(db: Path, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DISPATCHER_DB": str(db), "DISPATCHER_NOW": FIXED_NOW_TEXT}
    env["PYTHONUTF8"] = "1"  # argv decoded as UTF-8 (with surrogateescape) whatever the locale
    return subprocess.run(
        [sys.executable, "-m", "dispatcher", *args], env=env, capture_output=True, timeout=120
    )


def test_raw_bytes_in_argv_are_refused_recorded_and_never_a_traceback(
    site: Cli, db_path: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.db"
    shutil.copyfile(db_path, copy)
    publish = _dispatcher(copy, "publish", RUN, "--approver", "disp001", "--role", "dispatcher",
                          b"--reason", b"\xff\xfe bad reason text", *OVERRIDE)  # fmt: skip
    assert (publish.returncode, publish.stdout) == (2, b"")
    assert publish.stderr == f"Blocked: {not_utf8('Reason')}\n".encode()
    switch = _dispatcher(copy, "kill-switch", "activate", "--by", "admin01",
                         "--reason", b"Sicherheitsvorfall \xe4")  # fmt: skip
    assert (switch.returncode, switch.stderr) == (
        2,
        f"Blocked: {not_utf8('Reason', '0xe4')}\n".encode(),
    )
    read = _dispatcher(copy, "show-run", b"RUN-\xff")
    assert (read.returncode, read.stderr) == (1, f"Error: {not_utf8('RUN')}\n".encode())
    log = _dispatcher(copy, "audit", "log", "--json", "-n", "1")
    platform = _dispatcher(copy, "audit", "log", "--chain", "platform", "--json", "-n", "1")
    events = json.loads(log.stdout.decode("utf-8")) + json.loads(platform.stdout.decode())
    assert [(e["action"], e["outcome"], e["reason"]) for e in events] == [
        ("publish", "blocked", BAD_SHOWN),
        ("kill_switch.activate", "blocked", "Sicherheitsvorfall \\xe4"),
    ]
    verified = _dispatcher(copy, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert b"Traceback" not in publish.stderr + switch.stderr + read.stderr


# --- output never raises on such text ---------------------------------------------------------------


def test_error_lines_tables_and_json_write_such_bytes_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dispatcher.cli.errors import escape_unencodable_output, one_line
    from dispatcher.cli.output import emit_json, esc

    assert one_line("File wo\udcffche.json\nnot found") == "File wo\\xffche.json\\nnot found"
    assert esc("[b]x\udcff") == "\\[b]x\\xff"
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    monkeypatch.setattr(sys, "stdout", stdout)
    emit_json({"reason": "\udcff\udcfe bad", "path\udce4": ["a\\x"]})
    stdout.flush()
    assert json.loads(raw.getvalue().decode("utf-8")) == {
        "reason": "\\xff\\xfe bad",
        "path\\xe4": ["a\\x"],
    }
    escape_unencodable_output()
    print("Wrote /tmp/bericht\udcff.html")
    stdout.flush()
    assert raw.getvalue().endswith(b"Wrote /tmp/bericht\\xff.html\n")
