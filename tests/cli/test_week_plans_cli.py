"""A real week on the demo site (domain.md §9, issue 19): the plan in force and the working run,
`--run`, several sick calls in one proposal, absences as facts of the week, past work.

Every test builds the demo site (two weeks of runs, ~1,480 tour instances in 2026-W03) on the
test's database and runs at the demo Tuesday, 2026-01-13 06:30 in Vienna, unless it says
otherwise. The checks of who drives when read the roster and the export files, not the code
under test's own idea of an absence.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import Cli, CliResult

TUESDAY_AT = datetime(2026, 1, 13, 5, 30, tzinfo=UTC)
VIENNA = ZoneInfo("Europe/Vienna")
RUN = "RUN-20260112-002"  # the demo's PASS run of 2026-W03
FIRST, SECOND = "REP-20260113063000", "REP-20260113063000-2"
MONDAY = date(2026, 1, 12)
DAY = {"Mon": 0, "Tue": 1, "Wed": 2, "Thu": 3, "Fri": 4, "Sat": 5, "Sun": 6}
APPROVE = ("--approver", "disp001", "--role", "dispatcher")
OVERRIDE = ("--override-reason", "Churn after sick calls is expected this week")


@pytest.fixture
def demo(demo_site: Cli) -> Cli:
    """The demo site (tests/conftest.py `demo_site`) at the demo Tuesday."""
    return demo_site


@pytest.fixture
def two_candidates(demo: Cli, tmp_path: Path) -> Cli:
    """A second publishable run of 2026-W03 (the demo's roster imported again)."""
    again = demo("import-run", str(tmp_path / "files" / "run-2026-W03.json"))
    assert again.exit_code == 0, again.output
    return demo


def sick(cli: Cli, driver: str, days: str, *extra: str) -> CliResult:
    return cli(
        "request-repair",
        "--week",
        "2026-W03",
        "--driver",
        driver,
        "--type",
        "sick",
        "--days",
        days,
        "--requester",
        "disp001",
        *extra,
    )


def request_id(result: CliResult) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def propose(cli: Cli, request: str, *extra: str) -> dict[str, object]:
    result = cli("run-repair", "--request", request, "--time-limit", "5", "--json", *extra)
    assert result.exit_code == 0, result.output
    proposal: dict[str, object] = json.loads(result.stdout)
    return proposal


def apply(cli: Cli, request: str) -> CliResult:
    return cli("apply-repair", request, *APPROVE, "--reason", "Sick call covered, diff reviewed")


def tours_of(cli: Cli, driver: str, version: int | None = None) -> list[tuple[date, datetime]]:
    """(date, start instant) of every tour a driver drives in the run's version, from the
    roster view: a pass of its own over the plan, independent of the audits."""
    args = ["roster", RUN, "--driver", driver, "--json", "--page-size", "0"]
    if version is not None:
        args += ["--version", str(version)]
    view = json.loads(cli(*args).stdout)
    found = []
    for row in view["rows"]:
        for day, cell in row["cells"].items():
            when = MONDAY + timedelta(days=int(day) - 1)
            for tour in cell["tours"]:
                clock = time.fromisoformat(tour["start"])
                found.append((when, datetime.combine(when, clock, VIENNA).astimezone(UTC)))
    return found


def driving_when_sick(
    cli: Cli, absences: list[tuple[str, str, datetime]], version: int | None = None
) -> list[str]:
    """Every tour a sick driver drives on a sick day that started after the call."""
    wrong = []
    for driver, days, called in absences:
        sick_dates = {MONDAY + timedelta(days=DAY[d]) for d in days.split(",")}
        for when, start in tours_of(cli, driver, version):
            if when in sick_dates and start > called:
                wrong.append(f"{driver} {when} {start:%H:%M}Z")
    return wrong


# --- which run: --run, the run in force, the only candidate ---------------------------------


def test_two_publishable_runs_and_no_run_named_is_refused_with_the_candidates(
    two_candidates: Cli,
) -> None:
    refused = sick(two_candidates, "D005", "Tue,Wed")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: Week 2026-W03 has 2 runs that could be published: "
        "RUN-20260113-001 (PASS, 145 drivers), RUN-20260112-002 (PASS, 145 drivers); "
        "choose one with --run\n"
    )
    assert json.loads(two_candidates("repairs", "list", "--json").stdout) == []
    chosen = sick(two_candidates, "D005", "Tue,Wed", "--run", RUN)
    assert request_id(chosen) == FIRST
    assert f"on {RUN} v1:" in chosen.stderr


def test_the_only_publishable_run_is_used_and_named(demo: Cli) -> None:
    # The demo's other 2026-W03 run is its planted FAIL run: one candidate is left.
    result = sick(demo, "D005", "Tue,Wed")
    assert request_id(result) == FIRST
    assert f"on {RUN} v1 (the week's only run that can be published)" in result.stderr


def test_the_published_run_is_the_target_even_with_a_newer_candidate(
    two_candidates: Cli,
) -> None:
    published = two_candidates(
        "publish", RUN, *APPROVE, "--reason", "Week reviewed, all audits pass"
    )
    assert published.exit_code == 0, published.output
    result = sick(two_candidates, "D005", "Tue,Wed")
    assert f"on {RUN} v1 (the week's run in force)" in result.stderr


def test_a_run_of_another_week_or_none_at_all_is_an_error(demo: Cli) -> None:
    other = sick(demo, "D005", "Tue", "--run", "RUN-20260105-001")
    assert (other.exit_code, other.stderr) == (
        1,
        "Error: Run RUN-20260105-001 is a run of week 2026-W02, not of 2026-W03\n",
    )
    unknown = sick(demo, "D005", "Tue", "--run", "RUN-20990101-001")
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: Run RUN-20990101-001 not found\n")
    empty = sick(demo, "D005", "Tue", "--run", " ")
    assert empty.exit_code == 1 and "--run: give a run id" in empty.stderr


# --- past and started work --------------------------------------------------------------------


def test_a_scope_that_has_started_is_refused_and_nothing_is_recorded(demo: Cli) -> None:
    before = json.loads(demo("audit", "log", "--json", "--limit", "1000").stdout)
    monday = sick(demo, "D005", "Mon", "--run", RUN)
    assert (monday.exit_code, monday.stderr) == (
        1,
        "Error: Nothing to repair: every tour of D005 on Mon has started or is in the past "
        "(now 2026-01-13 06:30 Vienna)\n",
    )
    after = json.loads(demo("audit", "log", "--json", "--limit", "1000").stdout)
    assert after == before
    assert json.loads(demo("repairs", "list", "--json").stdout) == []


def test_on_todays_date_the_demo_week_is_past(demo: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCHER_NOW", "2026-12-02T09:00:00Z")
    result = sick(demo, "D005", "Tue,Wed", "--run", RUN)
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Nothing to repair: every tour of D005 on Tue, Wed has started or is in the past "
        "(now 2026-12-02 10:00 Vienna)\n",
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [("--days", "--days: give at least one day"), ("--tours", "--tours: give at least one tour")],
)
def test_an_empty_scope_is_an_error_not_the_whole_week(
    demo: Cli, option: str, message: str
) -> None:
    result = demo(
        "request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick",
        "--requester", "disp001", "--run", RUN, option, "",
    )  # fmt: skip
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n")
    assert json.loads(demo("repairs", "list", "--json").stdout) == []
    # An empty item is a typo, not a shorter scope.
    value = "Tue,," if option == "--days" else "T101,"
    odd = demo(
        "request-repair", "--week", "2026-W03", "--driver", "D005", "--type", "sick",
        "--requester", "disp001", "--run", RUN, option, value,
    )  # fmt: skip
    what = "days" if option == "--days" else "tours"
    assert (odd.exit_code, odd.stderr) == (
        1,
        f"Error: {option}: an empty item in {value!r}; separate {what} with one comma\n",
    )
    assert json.loads(demo("repairs", "list", "--json").stdout) == []


def test_the_request_counts_only_the_tours_still_to_repair(demo: Cli) -> None:
    """Monday's tours have been driven by the Tuesday morning: they are named apart."""
    driven = tours_of(demo, "D005")
    scope = {MONDAY + timedelta(days=d) for d in (0, 1, 2)}
    started = sum(1 for when, start in driven if when in scope and start <= TUESDAY_AT)
    ahead = sum(1 for when, start in driven if when in scope and start > TUESDAY_AT)
    assert started and ahead  # the demo's D005 drives on Monday and later in the scope
    result = sick(demo, "D005", "Mon,Tue,Wed", "--run", RUN)
    assert result.exit_code == 0, result.output
    assert (
        f": {ahead} tour instances to repair ({started} started, they stay with the driver)."
        in result.stderr
    ), result.stderr


# --- several sick calls at once ---------------------------------------------------------------


def test_two_sick_calls_repaired_in_one_proposal_published_locked_exported(
    demo: Cli, tmp_path: Path
) -> None:
    absences = [("D005", "Tue,Wed", TUESDAY_AT), ("D010", "Wed,Thu", TUESDAY_AT)]
    assert driving_when_sick(demo, absences)  # both drive on their sick days before the repair
    assert request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN)) == FIRST
    assert request_id(sick(demo, "D010", "Wed,Thu", "--run", RUN)) == SECOND
    proposal = propose(demo, FIRST)
    requests = proposal["requests"]
    assert isinstance(requests, list)
    assert [r["request_id"] for r in requests] == [FIRST, SECOND]
    promised = proposal["proposed"]
    assert isinstance(promised, dict)
    assert promised["audits"]["Coverage"] == 0  # what apply will produce, with both absences
    shown = demo("repairs", "show", SECOND)
    assert f"Proposal for {FIRST}" in shown.stdout and "Covers 2 open requests" in shown.stdout

    applied = apply(demo, FIRST)
    assert applied.exit_code == 0, applied.output
    assert f"Closed:      {FIRST}, {SECOND}" in applied.stdout
    listed = {
        r["request_id"]: r["status"] for r in json.loads(demo("repairs", "list", "--json").stdout)
    }
    assert listed == {FIRST: "APPLIED", SECOND: "APPLIED"}
    detail = json.loads(demo("show-run", RUN, "--json").stdout)
    assert detail["version"] == 2
    assert [a["passed"] for a in detail["audits"]] == [True] * 7
    assert driving_when_sick(demo, absences) == []

    extra = OVERRIDE if detail["status"] == "WARN" else ()
    reason = ("--reason", "Week reviewed after two sick calls")
    assert demo("publish", RUN, *APPROVE, *reason, *extra).exit_code == 0
    locked = demo(
        "lock", RUN, "--approver", "ops001", "--role", "ops_lead",
        "--reason", "Approved for export to dispatch", *extra,
    )  # fmt: skip
    assert locked.exit_code == 0, locked.output
    out = tmp_path / "w03.csv"
    exported = demo("export", RUN, "--format", "csv", "--out", str(out), "--by", "ops001")
    assert exported.exit_code == 0, exported.output
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 1400
    sick_days = {("D005", "2026-01-13"), ("D005", "2026-01-14"), ("D010", "2026-01-14")}
    sick_days |= {("D010", "2026-01-15")}
    assert [r for r in rows if (r["driver_id"], r["date"]) in sick_days] == []
    assert {r["driver_id"] for r in rows} >= {"D005", "D010"}  # they still drive other days
    assert demo("audit", "verify", "--state").exit_code == 0


def test_only_leaves_the_other_request_open_and_the_fail_is_explained(demo: Cli) -> None:
    request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    request_id(sick(demo, "D010", "Wed,Thu", "--run", RUN))
    held = len(driving_when_sick(demo, [("D005", "Tue,Wed", TUESDAY_AT)]))
    assert held > 0
    proposal = propose(demo, SECOND, "--only")
    assert proposal["left_open"] == [FIRST]
    promised = proposal["proposed"]
    assert isinstance(promised, dict)
    assert promised["audits"]["Coverage"] == held  # D005 still drives while absent
    applied = apply(demo, SECOND)
    assert applied.exit_code == 0, applied.output
    assert "❌ FAIL" in applied.stdout
    assert f"v2 is FAIL until {FIRST} is repaired: D005 is absent on Tue, Wed" in applied.stdout
    detail = json.loads(demo("show-run", RUN, "--json").stdout)
    coverage = detail["audits"][0]
    assert [v["kind"] for v in coverage["violations"]] == ["UNAVAILABLE"] * held
    assert all(f"({FIRST})" in v["message"] for v in coverage["violations"])
    # repairing the other one as well gives a clean v3
    propose(demo, FIRST)
    assert apply(demo, FIRST).exit_code == 0
    detail = json.loads(demo("show-run", RUN, "--json").stdout)
    assert (detail["version"], detail["audits"][0]["passed"]) == (3, True)


def test_a_request_made_after_the_proposal_makes_it_stale(demo: Cli) -> None:
    request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    propose(demo, FIRST)
    request_id(sick(demo, "D010", "Wed,Thu", "--run", RUN))
    refused = apply(demo, FIRST)
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"Blocked: Repair proposal is stale: {SECOND} was requested since it was computed; "
        "run run-repair again\n",
    )
    log = json.loads(demo("audit", "log", "--json", "--limit", "1").stdout)
    assert (log[-1]["action"], log[-1]["outcome"]) == ("repair.apply", "blocked")


def test_a_newer_proposal_for_a_covered_request_makes_the_joint_one_stale(demo: Cli) -> None:
    request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    request_id(sick(demo, "D010", "Wed,Thu", "--run", RUN))
    propose(demo, FIRST)  # covers both
    propose(demo, SECOND, "--only")  # replaces SECOND's proposal
    stale = f"Repair proposal is stale: {SECOND} has a newer proposal; run run-repair again"
    assert stale in demo("repairs", "show", FIRST).stdout  # said before anyone tries to apply
    assert json.loads(demo("repairs", "show", FIRST, "--json").stdout)["stale"] == stale
    assert json.loads(demo("repairs", "show", SECOND, "--json").stdout)["stale"] is None
    refused = apply(demo, FIRST)
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"Blocked: Repair proposal is stale: {SECOND} has a newer proposal; run run-repair again\n",
    )


def test_a_sick_call_on_another_run_of_the_week_makes_the_proposal_stale(demo: Cli) -> None:
    """The absence is the week's, whichever run it was requested on: the proposal computed
    before it does not apply, and the one computed after it says what it leaves FAIL."""
    request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    propose(demo, FIRST)
    other_run = request_id(sick(demo, "D010", "Wed", "--run", "RUN-20260112-001"))
    refused = apply(demo, FIRST)
    assert (refused.exit_code, refused.stderr) == (
        2,
        "Blocked: Repair proposal is stale: the week's absences changed since it was computed; "
        "run run-repair again\n",
    )
    log = json.loads(demo("audit", "log", "--json", "--limit", "1").stdout)
    assert (log[-1]["action"], log[-1]["outcome"]) == ("repair.apply", "blocked")
    assert log[-1]["detail"]["check"] == "proposal_fresh"
    propose(demo, FIRST)  # the joint repair of RUN's requests only: D010's is RUN-…-003's
    applied = apply(demo, FIRST)
    assert applied.exit_code == 0, applied.output
    assert (
        f"v2 is FAIL: D010 is absent on Wed ({other_run} was made on RUN-20260112-001); "
        f"request a repair on {RUN} for the driver"
    ) in " ".join(applied.output.split())
    assert driving_when_sick(demo, [("D005", "Tue,Wed", TUESDAY_AT)], version=2) == []


# --- an absence is a fact about the driver ----------------------------------------------------


def test_an_applied_absence_binds_every_later_repair_and_solve(demo: Cli, tmp_path: Path) -> None:
    request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    propose(demo, FIRST)
    assert apply(demo, FIRST).exit_code == 0
    # Another driver off all week: the repair must not hand D005 anything on Tue or Wed.
    second = request_id(sick(demo, "D010", "Tue,Wed,Thu,Fri,Sat", "--run", RUN))
    propose(demo, second)
    assert apply(demo, second).exit_code == 0
    absences = [("D005", "Tue,Wed", TUESDAY_AT), ("D010", "Tue,Wed,Thu,Fri,Sat", TUESDAY_AT)]
    assert driving_when_sick(demo, absences) == []
    # A fresh solve of the week sees both absences as well.
    files = tmp_path / "files"
    solved = demo(
        "solve", "--week", "2026-W03", "--tours", str(files / "tours-2026-W03.csv"),
        "--drivers", str(files / "drivers.csv"), "--time-limit", "20", "--json",
    )  # fmt: skip
    assert solved.exit_code == 0, solved.output
    new_run = json.loads(solved.stdout)["run_id"]
    for driver, days, _ in absences:
        shown = demo("roster", new_run, "--driver", driver, "--json", "--page-size", "0")
        if shown.exit_code == 1:  # the solver left the driver without tours
            assert shown.stderr == f"Error: Driver {driver} has no tours in {new_run} v1\n"
            continue
        view = json.loads(shown.stdout)
        worked = {int(d) for row in view["rows"] for d in row["cells"]}
        assert worked.isdisjoint({DAY[d] + 1 for d in days.split(",")}), (driver, worked)


def test_a_reject_keeps_the_absence_unless_the_driver_is_available(demo: Cli) -> None:
    kept = request_id(sick(demo, "D005", "Wed", "--run", RUN))
    rejected = demo("reject-repair", kept, "--by", "disp001", "--reason", "Handled by phone")
    assert rejected.exit_code == 0, rejected.output
    assert "absence stays recorded" in rejected.stdout
    # The next repair of the week still counts D005's Wednesday: the version it creates fails
    # Coverage for D005's Wednesday tours (nobody repaired them) and names the request.
    other = request_id(sick(demo, "D010", "Thu", "--run", RUN))
    propose(demo, other)
    applied = apply(demo, other)
    assert applied.exit_code == 0, applied.output
    detail = json.loads(demo("show-run", RUN, "--json").stdout)
    messages = [v["message"] for v in detail["audits"][0]["violations"]]
    assert messages and all("D005 is SICK on 2026-01-14" in m and kept in m for m in messages)
    # Withdrawn: the driver is available after all, nothing of hers counts any more.
    back = request_id(sick(demo, "D020", "Fri", "--run", RUN))
    withdrawn = demo(
        "reject-repair", back, "--by", "disp001", "--reason", "Driver is back, no change needed",
        "--driver-available",
    )  # fmt: skip
    assert "absence is withdrawn" in withdrawn.stdout
    last = request_id(sick(demo, "D030", "Sat", "--run", RUN))
    proposal = propose(demo, last)
    changes = proposal["changes"]
    assert isinstance(changes, list)
    promised = proposal["proposed"]
    assert isinstance(promised, dict)
    assert promised["audits"]["Coverage"] == len(messages)  # D005's, not D020's


def test_ten_sick_calls_in_turn_leave_no_sick_driver_driving(demo: Cli) -> None:
    calls = [
        ("D011", "Wed,Thu"), ("D023", "Tue"), ("D034", "Fri,Sat"), ("D047", "Thu"),
        ("D052", "Wed"), ("D066", "Tue,Wed,Thu"), ("D071", "Sat"), ("D089", "Fri"),
        ("D095", "Wed,Fri"), ("D108", "Thu,Fri,Sat"),
    ]  # fmt: skip
    absences = [(d, days, TUESDAY_AT) for d, days in calls]
    assert len(driving_when_sick(demo, absences)) >= 10
    for n, (driver, days) in enumerate(calls):
        request = request_id(sick(demo, driver, days, "--run", RUN))
        proposal = propose(demo, request)
        assert proposal["uncovered"] == [], (driver, proposal["uncovered"])
        applied = apply(demo, request)
        assert applied.exit_code == 0, applied.output
        assert f"v{n + 2} created" in applied.stdout
    assert driving_when_sick(demo, absences) == []
    detail = json.loads(demo("show-run", RUN, "--json").stdout)
    assert detail["version"] == 11
    assert [a["passed"] for a in detail["audits"]] == [True] * 7  # the audits agree
    assert demo("audit", "verify", "--state").exit_code == 0


# --- the week's plans, shown ------------------------------------------------------------------


def test_status_list_runs_and_show_run_name_the_plan_in_force_and_the_pending_one(
    demo: Cli,
) -> None:
    before = demo("status")
    assert "2026-W03  In force: none" in before.stdout
    assert f"Working:  {RUN} v1 (PASS)" in before.stdout
    assert "2026-W02  In force: RUN-20260105-001 v1 (locked)" in before.stdout
    assert (
        demo("publish", RUN, *APPROVE, "--reason", "Week reviewed, all audits pass").exit_code == 0
    )
    request_id(sick(demo, "D005", "Tue,Wed"))
    propose(demo, FIRST)
    applied = apply(demo, FIRST)
    assert f"In force:    {RUN} v1 (published) until v2 is published:" in applied.stdout
    assert f"dispatcher publish {RUN} --approver ID" in applied.stdout
    status = demo("status").stdout
    assert f"2026-W03  In force: {RUN} v1 (published)" in status
    assert "Pending:  v2 (" in status and "pending publish" in status
    runs = demo("list-runs").stdout.splitlines()
    mine = next(line for line in runs if line.startswith(RUN))
    assert mine.rstrip().endswith("v1 ▶")
    assert any(line.startswith("Pub/Lock:") and "▶ in force" in line for line in runs)
    as_json = {r["run_id"]: r["week_role"] for r in json.loads(demo("list-runs", "--json").stdout)}
    assert as_json[RUN] == "in force" and as_json["RUN-20260112-001"] is None
    shown = demo("show-run", RUN).stdout
    assert f"Week plan: in force: {RUN} v1 (published); v2 (" in shown
    week = json.loads(demo("status", "--json").stdout)["weeks"][0]
    assert week["in_force"] == {"run_id": RUN, "version": 1, "locked": False}
    assert week["pending_version"] == 2


# --- the show-run checklist follows the run's state -------------------------------------------


def _checklist(cli: Cli, run: str = RUN) -> tuple[str, dict[str, bool]]:
    detail = json.loads(cli("show-run", run, "--json").stdout)
    return detail["checklist_title"], {r["check"]: r["ok"] for r in detail["checklist"]}


def _check(cli: Cli, action: str, *approval: str, run: str = RUN) -> dict[str, bool]:
    """`check`'s verdict of every gate (it exits 2 when one fails)."""
    result = cli("check", run, "--action", action, *approval, "--json")
    assert result.exit_code in (0, 2), result.output
    return {r["name"]: r["passed"] for r in json.loads(result.stdout)["results"]}


INFO_ROWS = {"warn_has_override", "locker_differs_from_publisher"}  # say what the approver gives


@pytest.mark.parametrize("state", ["fail run", "pending repair", "published", "ready"])
def test_the_checklist_rows_are_the_gate_checks_and_agree_with_check(demo: Cli, state: str) -> None:
    run, approval = RUN, (*APPROVE, "--reason", "Week reviewed, all audits pass")
    if state == "fail run":
        run = "RUN-20260112-001"
    elif state == "pending repair":
        request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    elif state == "published":
        assert demo("publish", RUN, *approval).exit_code == 0
        approval = ("--approver", "ops001", "--role", "ops_lead", "--reason", "Approved for export")
    title, rows = _checklist(demo, run)
    action = "lock" if state == "published" else "publish"
    assert title == f"Ready to {action}?"
    gates = _check(demo, action, *approval, run=run)
    assert set(rows) == set(gates) - {
        "approval_given", "role_allowed", "approver_registered", "approver_holds_role",
        "approver_is_logged_in", "reason_long_enough",
    }  # fmt: skip
    for name, ok in rows.items():
        if name not in INFO_ROWS:
            assert ok == gates[name], (name, ok, gates[name])
    expected_failures = {
        "fail run": {"status_allows"},
        "pending repair": {"no_open_repairs", "no_absent_driver_assigned"},  # D005 has tours
        "published": set(),
        "ready": set(),
    }[state]
    assert {n for n, ok in rows.items() if not ok} == expected_failures


def test_after_the_lock_the_checklist_is_the_export(demo: Cli, tmp_path: Path) -> None:
    reason = ("--reason", "Week reviewed, all audits pass")
    assert demo("publish", RUN, *APPROVE, *reason).exit_code == 0
    lock = ("--approver", "ops001", "--role", "ops_lead", "--reason", "Approved for export")
    assert demo("lock", RUN, *lock).exit_code == 0
    title, rows = _checklist(demo)
    assert (title, rows["exported"]) == ("Locked: not yet exported", False)
    out = tmp_path / "w03.csv"
    assert demo("export", RUN, "--out", str(out), "--by", "ops001").exit_code == 0
    title, rows = _checklist(demo)
    assert title == "Locked: exported" and all(rows.values())
    assert "Locked and exported" in demo("show-run", RUN).stdout


# --- sick calls after the lock: amendments ----------------------------------------------------

THURSDAY = "2026-01-15T05:30:00Z"  # 06:30 in Vienna
LOCK = ("--approver", "ops001", "--role", "ops_lead")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def locked(demo: Cli, tmp_path: Path) -> Cli:
    """RUN published and locked on Wednesday, exported in full as v1.csv."""
    assert (
        demo("publish", RUN, *APPROVE, "--reason", "Week reviewed, all audits pass").exit_code == 0
    )
    assert demo("lock", RUN, *LOCK, "--reason", "Approved for export").exit_code == 0
    assert demo("export", RUN, "--out", str(tmp_path / "v1.csv"), "--by", "ops001").exit_code == 0
    return demo


def test_a_sick_call_after_the_lock_needs_amend(
    locked: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPATCHER_NOW", THURSDAY)
    refused = sick(locked, "D007", "Thu,Fri")
    assert (refused.exit_code, refused.stderr) == (
        2,
        f"Blocked: Run {RUN} is locked; repairs are disabled\n",
    )
    log = json.loads(locked("audit", "log", "--json", "-n", "1").stdout)
    assert (log[-1]["action"], log[-1]["outcome"]) == ("repair.request", "blocked")
    other = locked("request-repair", "--week", "2026-W02", "--driver", "D007", "--type", "sick",
                   "--requester", "disp001", "--run", "RUN-20260105-001", "--amend")  # fmt: skip
    assert other.exit_code == 1 and "in the past" in other.stderr  # W02 is over by Thursday


def test_amend_on_a_run_that_is_not_locked_is_an_error(demo: Cli) -> None:
    result = sick(demo, "D005", "Tue", "--run", RUN, "--amend")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: --amend is for a locked run; {RUN} is not locked (repair it as usual)\n",
    )


def test_an_amendment_is_published_locked_and_exported_as_a_delta(
    locked: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DISPATCHER_NOW", THURSDAY)
    called = datetime(2026, 1, 15, 5, 30, tzinfo=UTC)
    assert driving_when_sick(locked, [("D007", "Thu,Fri", called)])
    request = request_id(sick(locked, "D007", "Thu,Fri", "--amend"))
    propose(locked, request)
    applied = apply(locked, request)
    assert applied.exit_code == 0, applied.output
    assert (
        f"In force:    {RUN} v1 (locked) until amendment v2 is published and locked:"
        in applied.stdout
    )
    detail = json.loads(locked("show-run", RUN, "--json").stdout)
    assert (detail["version"], detail["locked_version"]) == (2, 1)
    status = locked("status").stdout
    assert f"2026-W03  In force: {RUN} v1 (locked)" in status
    assert "Pending:  amendment v2 (PASS) pending publish" in status
    # Until the amendment is locked, the locked v1 stays what is exported.
    early = tmp_path / "early.csv"
    assert locked("export", RUN, "--out", str(early), "--by", "ops001").exit_code == 0
    assert _read(early) == _read(tmp_path / "v1.csv")
    # The amendment's lock needs its own publish, then another person than the publisher.
    unpublished = locked("lock", RUN, *LOCK, "--reason", "Amendment approved for export")
    assert (unpublished.exit_code, unpublished.stderr) == (
        2,
        f"Blocked: Plan version 2 of {RUN} has not been published\n",
    )
    assert (
        locked("publish", RUN, *APPROVE, "--reason", "Thursday amendment reviewed").exit_code == 0
    )
    same = locked("lock", RUN, *APPROVE, "--reason", "Amendment approved for export")
    assert same.exit_code == 2
    assert locked("lock", RUN, *LOCK, "--reason", "Amendment approved for export").exit_code == 0
    assert f"{RUN} v2 (locked)" in locked("status").stdout
    # The delta holds exactly what differs between the two full exports.
    delta = tmp_path / "v2-delta.csv"
    done = locked("export", RUN, "--out", str(delta), "--delta", "--by", "ops001")
    assert done.exit_code == 0, done.output
    full = tmp_path / "v2.csv"
    assert locked("export", RUN, "--out", str(full), "--by", "ops001").exit_code == 0
    before = {r["instance_id"]: r for r in _read(tmp_path / "v1.csv")}
    after = {r["instance_id"]: r for r in _read(full)}
    expected = sorted(i for i in set(before) | set(after) if before.get(i) != after.get(i))
    rows = _read(delta)
    assert sorted(r["instance_id"] for r in rows) == expected and expected
    for row in rows:
        assert row["change"] == "changed"
        assert row["previous_driver_id"] == before[row["instance_id"]]["driver_id"]
        assert {k: v for k, v in row.items() if k not in ("change", "previous_driver_id")} == (
            after[row["instance_id"]]
        )
    manifest = json.loads((tmp_path / "v2-delta.csv.manifest.json").read_text())
    assert manifest["delta"]["base_version"] == 1
    assert manifest["delta"]["base_export"]["file"] == "early.csv"  # the export made last
    assert (manifest["version"], manifest["rows"]) == (2, len(expected))
    assert driving_when_sick(locked, [("D007", "Thu,Fri", called)]) == []
    assert locked("audit", "verify", "--state").exit_code == 0
    again = locked("export", RUN, "--out", str(tmp_path / "again.csv"), "--delta")
    assert again.exit_code == 1 and "a delta needs a newer locked version" in again.stderr


def test_a_delta_needs_an_earlier_export(demo: Cli, tmp_path: Path) -> None:
    assert (
        demo("publish", RUN, *APPROVE, "--reason", "Week reviewed, all audits pass").exit_code == 0
    )
    assert demo("lock", RUN, *LOCK, "--reason", "Approved for export").exit_code == 0
    result = demo("export", RUN, "--out", str(tmp_path / "d.csv"), "--delta")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: Nothing of {RUN} was exported yet: export it in full first (without --delta)\n",
    )
    assert not (tmp_path / "d.csv").exists()


# --- found by trying the week as a new user would (issue 19, second round) ------------------


def test_a_driver_id_in_another_case_is_the_same_driver(demo: Cli, tmp_path: Path) -> None:
    """D005 and d005 are one person: a standby file, a run file or a request cannot bring the
    sick driver back under the other spelling."""
    first = sick(demo, "d005", "Tue,Wed", "--run", RUN)
    assert request_id(first) == FIRST
    shown = json.loads(demo("repairs", "show", FIRST, "--json").stdout)
    assert shown["driver_id"] == "D005"  # as the run spells it
    standby = tmp_path / "sb.csv"
    standby.write_text("driver_id,name\nd005,David Reiter\n", encoding="utf-8")
    refused = demo("run-repair", "--request", FIRST, "--standby", str(standby))
    assert (refused.exit_code, refused.stderr) == (
        1,
        "Error: sb.csv: standby driver d005 is already in the run as D005 "
        "(ids are compared ignoring case)\n",
    )
    # A run file that spells the sick driver d005 (renamed by hand) fails Coverage on the
    # absent days, so it can be neither published nor locked.
    document = json.loads((tmp_path / "files" / "run-2026-W03.json").read_text(encoding="utf-8"))
    for row in document["drivers"]:
        if row["driver_id"] == "D005":
            row["driver_id"] = "d005"
    for row in document["assignments"]:
        if row["driver_id"] == "D005":
            row["driver_id"] = "d005"
    document["solver"].pop("output_hash", None)
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(document), encoding="utf-8")
    imported = demo("import-run", str(renamed), "--json")
    assert imported.exit_code == 0, imported.output
    run = json.loads(imported.stdout)["run_id"]
    detail = json.loads(demo("show-run", run, "--json").stdout)
    assert detail["status"] == "FAIL"
    kinds = {v["kind"] for v in detail["audits"][0]["violations"]}
    assert kinds == {"UNAVAILABLE"}
    messages = [v["message"] for v in detail["audits"][0]["violations"]]
    assert all(m.startswith("d005 is SICK on 2026-01-1") for m in messages), messages
    # Both spellings in one file: refused, one line.
    document["drivers"].append({"driver_id": "D005", "name": "David Reiter"})
    twins = tmp_path / "twins.json"
    twins.write_text(json.dumps(document), encoding="utf-8")
    both = demo("import-run", str(twins))
    assert both.exit_code == 1
    assert both.stderr == (
        "Error: twins.json: duplicate driver_id D005 (as d005: driver ids are compared "
        "ignoring case)\n"
    )


def test_a_run_being_repaired_stays_the_working_run_while_fail(demo: Cli) -> None:
    """`--only` leaves the run FAIL until the other sick call is repaired: it stays the week's
    working run, and a further sick call without --run goes to it, not to another run."""
    request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    request_id(sick(demo, "D010", "Wed,Thu", "--run", RUN))
    propose(demo, SECOND, "--only")
    assert apply(demo, SECOND).exit_code == 0
    week = json.loads(demo("status", "--json").stdout)["weeks"][0]
    assert week["working"]["run_id"] == RUN
    third = sick(demo, "D001", "Fri")
    assert third.exit_code == 0, third.output
    assert f"on {RUN} v2 (the run being repaired: it has open sick calls)" in third.stderr
    runs = {r["run_id"]: r for r in json.loads(demo("list-runs", "--json").stdout)}
    assert runs[RUN]["week_role"] == "working"


def test_a_kept_absence_of_the_same_driver_is_repaired_with_a_new_request(demo: Cli) -> None:
    """D005's Wednesday call was rejected but kept (D005 is still absent then); a later call
    for Tuesday repairs the Wednesday tours too, so the new version does not fail Coverage."""
    held = tours_of(demo, "D005")
    tue, wed = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    on_tue = sum(1 for when, start in held if when == tue and start > TUESDAY_AT)
    on_wed = sum(1 for when, _ in held if when == wed)
    assert on_tue and on_wed
    kept = request_id(sick(demo, "D005", "Wed", "--run", RUN))
    rejected = demo("reject-repair", kept, "--by", "disp001", "--reason", "Handled by phone")
    assert rejected.exit_code == 0, rejected.output
    tuesday = request_id(sick(demo, "D005", "Tue", "--run", RUN))
    proposal = propose(demo, tuesday)
    affected = proposal["affected"]
    assert isinstance(affected, list) and len(affected) == on_tue + on_wed
    promised = proposal["proposed"]
    assert isinstance(promised, dict)
    assert promised["audits"]["Coverage"] == 0, promised
    applied = apply(demo, tuesday)
    assert applied.exit_code == 0, applied.output
    assert "FAIL" not in applied.stdout
    assert driving_when_sick(demo, [("D005", "Tue,Wed", TUESDAY_AT)]) == []
    detail = json.loads(demo("show-run", RUN, "--json").stdout)
    assert (detail["version"], detail["audits"][0]["passed"]) == (2, True)


def test_a_proposal_overtaken_by_time_does_not_apply(
    demo: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id(sick(demo, "D005", "Tue,Wed", "--run", RUN))
    proposal = propose(demo, FIRST)
    changes = proposal["changes"]
    assert isinstance(changes, list) and changes
    monkeypatch.setenv("DISPATCHER_NOW", "2026-01-14T19:00:00Z")  # Wednesday evening
    refused = apply(demo, FIRST)
    assert refused.exit_code == 2
    assert refused.stderr.startswith("Blocked: Repair proposal is stale: T")
    assert "has started since it was computed (Tue 06:30 Vienna); run run-repair again" in (
        refused.stderr
    )
    log = json.loads(demo("audit", "log", "--json", "--limit", "1").stdout)
    assert (log[-1]["action"], log[-1]["outcome"]) == ("repair.apply", "blocked")


def test_a_successor_repaired_after_its_publish_is_named_as_pending_publish(
    demo: Cli, tmp_path: Path
) -> None:
    """The week's plan is locked; a run published to replace it is then repaired: status and
    show-run name the new version as pending publish, not the published one as pending lock."""
    assert demo("publish", RUN, *APPROVE, "--reason", "Week reviewed", *OVERRIDE).exit_code == 0
    assert demo("lock", RUN, *LOCK, "--reason", "Approved for export", *OVERRIDE).exit_code == 0
    again = demo("import-run", str(tmp_path / "files" / "run-2026-W03.json"), "--json")
    successor = json.loads(again.stdout)["run_id"]
    published = demo("publish", successor, *APPROVE, "--reason", "Replacement plan", *OVERRIDE)
    assert published.exit_code == 0, published.output
    request = request_id(sick(demo, "D007", "Sat"))
    propose(demo, request)
    applied = apply(demo, request)
    assert applied.exit_code == 0, applied.output
    assert f"In force:    {RUN} v1 (locked) until {successor} v2 is published and locked:" in (
        applied.stdout
    )
    status = demo("status").stdout
    assert f"{successor} v2" in status and "pending publish" in status
    assert f"{successor} v1 (WARN) pending lock" not in status
    shown = demo("show-run", successor).stdout
    assert "v1 published to replace" in shown and "v2 in force once published and locked" in shown
