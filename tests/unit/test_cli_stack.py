"""Rendering operate's records: what a person (or a script) sees of an execution."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from pipeline.cli.stack import (
    WatchDisplay,
    duration,
    execution_panel,
    interrupted_message,
    reattach_command,
    render_final,
    render_logs,
    render_status,
    target_of,
)
from pipeline.contract.steps import STEPS
from pipeline.ops import logs as ops_logs
from pipeline.ops import runs
from pipeline.ops import verify as ops_verify
from pipeline.ops.history import ChildRuns, ExecutionView, StepStatus, StepView

T0 = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:tlc-monthly:yellow-2024-09-manual-x"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:tlc-monthly"


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=300, force_terminal=False, color_system=None), buffer


def view(status: str, *step_states: StepStatus, error: str | None = None) -> ExecutionView:
    steps = []
    for step, state in zip(STEPS, step_states, strict=False):
        entered = None if state is StepStatus.PENDING else T0
        exited = (
            T0 + timedelta(seconds=65)
            if state in (StepStatus.SUCCEEDED, StepStatus.FAILED)
            else None
        )
        steps.append(
            StepView(
                step.state, state, attempts=int(entered is not None), entered=entered, exited=exited
            )
        )
    if error:
        steps[-1].error, steps[-1].cause = "States.TaskFailed", error
    return ExecutionView(ARN, "yellow-2024-09-manual-x", MACHINE, status, T0, steps=steps)


def test_durations_read_naturally():
    assert [duration(s) for s in (None, 4.9, 65, 3725)] == ["", "4s", "1m05s", "1h02m"]


def test_flags_become_the_target_and_absent_flags_stay_unset():
    args = argparse.Namespace(stack="dev", state_machine_arn=MACHINE, region="eu-west-1")
    target = target_of(args)
    assert (target.stack, target.region) == ("dev", "eu-west-1")
    assert target.given.state_machine_arn == MACHINE
    assert target.given.workgroup_name is None


def test_watch_lines_print_each_step_change_once_when_not_a_terminal():
    out, buffer = console()
    display = WatchDisplay(out, now=lambda: T0 + timedelta(seconds=70))
    with display:
        display(view("RUNNING", StepStatus.RUNNING, StepStatus.PENDING, StepStatus.PENDING))
        display(view("RUNNING", StepStatus.RUNNING, StepStatus.PENDING, StepStatus.PENDING))
        display(view("RUNNING", StepStatus.SUCCEEDED, StepStatus.RUNNING, StepStatus.PENDING))
    assert buffer.getvalue().splitlines() == [
        "▶ IngestRaw running ",
        "✓ IngestRaw succeeded 1m05s",
        "▶ TransformTrips running ",
    ]


def test_quiet_watch_prints_nothing():
    out, buffer = console()
    with WatchDisplay(out, quiet=True) as display:
        display(view("RUNNING", StepStatus.RUNNING, StepStatus.PENDING, StepStatus.PENDING))
    assert buffer.getvalue() == ""


def test_final_failure_goes_to_stderr_with_a_failing_exit_code(capsys):
    out, buffer = console()
    failed = view(
        "FAILED",
        StepStatus.SUCCEEDED,
        StepStatus.SUCCEEDED,
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        error="CountMismatch: inserted 9 of 10 rows",
    )

    code = render_final(out, failed, quiet=False)

    assert code == 1
    assert "PublishMonth" in buffer.getvalue()  # the steps table
    assert "PublishMonth failed: States.TaskFailed: CountMismatch" in capsys.readouterr().err


def test_final_success_exits_zero():
    out, buffer = console()
    done = view("SUCCEEDED", *[StepStatus.SUCCEEDED] * 3)
    done.stopped = T0 + timedelta(minutes=3)
    assert render_final(out, done, quiet=True) == 0
    assert buffer.getvalue().strip() == "✓ yellow-2024-09-manual-x SUCCEEDED in 3m00s"


def test_status_shows_each_execution_with_its_steps_and_error():
    out, buffer = console()
    failed = view(
        "FAILED", StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.PENDING, StepStatus.PENDING
    )
    failed.steps[1].error, failed.steps[1].cause = "States.TaskFailed", "Spark died"
    failed.input = {"year": "2024", "month": "09", "dataset": "yellow"}
    backfill = view("RUNNING")
    backfill.input = {"from": "2024-01", "to": "2024-06", "dataset": "green"}
    backfill.children = ChildRuns(started=4, succeeded=2, failed=1)
    result = runs.StatusResult(
        [
            runs.MachineExecutions("monthly", MACHINE, [failed]),
            runs.MachineExecutions("backfill", MACHINE + "-backfill", [backfill]),
        ],
        T0,
    )

    render_status(out, result)

    text = buffer.getvalue()
    assert "yellow-2024-09-manual-x" in text
    assert "yellow 2024-09" in text
    assert "green 2024-01..2024-06" in text
    assert "2 ok, 1 failed, 1 running" in text
    assert "✓ IngestRaw ✗ TransformTrips · AuditMonth · PublishMonth" in text
    assert "TransformTrips failed: States.TaskFailed: Spark died" in text


def test_status_of_a_machine_never_run_says_so():
    out, buffer = console()
    render_status(out, runs.StatusResult([runs.MachineExecutions("backfill", MACHINE, [])], T0))
    assert buffer.getvalue().strip() == "backfill: no executions yet"


def test_log_lines_are_printed_verbatim():
    out, buffer = console()
    run = ops_logs.JobRunLogs(
        "IngestRaw",
        "tlc-dev-ingest_raw",
        "jr_1",
        "FAILED",
        "SourceNotPublished: 403",
        12,
        [
            ops_logs.LogStream(
                "/aws-glue/python-jobs/error", "jr_1", ["[bold]not markup[/bold]"], True
            )
        ],
    )

    render_logs(out, ops_logs.LogsResult(view("FAILED", StepStatus.FAILED), [run]))

    text = buffer.getvalue()
    assert "[bold]not markup[/bold]" in text
    assert "SourceNotPublished: 403" in text
    assert "IngestRaw · tlc-dev-ingest_raw · jr_1 FAILED" in text


def test_the_live_panel_shows_the_current_step_and_elapsed_time():
    out, buffer = console()
    running = view(
        "RUNNING", StepStatus.SUCCEEDED, StepStatus.RUNNING, StepStatus.PENDING, StepStatus.PENDING
    )

    out.print(execution_panel(running, T0 + timedelta(seconds=125)))

    text = buffer.getvalue()
    assert "yellow-2024-09-manual-x  RUNNING  2m05s  now: TransformTrips" in text
    assert "▶ TransformTrips" in text
    assert "· AuditMonth" in text
    assert "· PublishMonth" in text


def test_on_a_terminal_the_display_is_live_not_lines():
    buffer = io.StringIO()
    terminal = Console(file=buffer, width=120, force_terminal=True, color_system=None)
    running = view("RUNNING", StepStatus.RUNNING, StepStatus.PENDING, StepStatus.PENDING)
    with WatchDisplay(terminal, now=lambda: T0) as display:
        assert display._live is not None
        display(running)
    assert display._live is None  # stopped; transient, so the final table follows cleanly


def test_ctrl_c_before_any_execution_started_is_just_interrupted():
    args = argparse.Namespace(stack="dev", state_machine_arn=None, region=None)
    assert interrupted_message(args, KeyboardInterrupt()) == "interrupted"


def test_the_reattach_command_needs_only_the_execution_when_no_target_was_given():
    args = argparse.Namespace(execution_arn=ARN, region=None)  # `watch --execution-arn A`
    assert reattach_command(args, ARN) == f"python -m pipeline watch --execution-arn {ARN}"
    message = interrupted_message(args, runs.Interrupted(ARN))
    assert message.startswith("interrupted: stopped following yellow-2024-09-manual-x;")


def test_exit_codes_bad_input_is_2_an_unusable_stack_is_1(capsys):
    """As pipeline.cli's docstring says: only InvalidInput exits 2; other PipelineErrors 1."""
    from pipeline.cli import main as cli

    assert cli.main(["status", "--state-machine-arn", MACHINE, "--limit", "0"]) == 2
    assert "invalid --limit 0" in capsys.readouterr().err
    assert cli.main(["status"]) == 1  # no --stack, no ARN: StackUnavailable, nothing ran
    assert "pass --stack NAME or --state-machine-arn" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "complaint"),
    [
        (
            ["--workdir", "{tmp}", "--stack", "dev"],
            "invalid arguments '--workdir with --stack': give one of --workdir DIR",
        ),
        (
            ["--workdir", "{tmp}", "--workgroup", "w", "--database", "d"],
            "'--workdir with --workgroup --database'",
        ),
        (["--database", "tlc"], "'--database without --workgroup': give both, or --stack S"),
        (["--workgroup", "tlc-elt-dev"], "'--workgroup without --database': give both"),
        (
            ["--processed-bucket", "b"],
            "'--processed-bucket without --stack or --workgroup/--database': they apply to a",
        ),
        (["--workdir", "{tmp}", "--region", "eu-west-1"], "'--workdir with --region'"),
    ],
)
def test_verify_refuses_mixed_or_half_targets_before_anything_runs(
    flags, complaint, tmp_path, monkeypatch, capsys
):
    from pipeline.cli import local as local_commands
    from pipeline.cli import main as cli

    def must_not_run(*args, **kwargs):
        raise AssertionError("verify went on to read a warehouse")

    monkeypatch.setattr(ops_verify, "verify", must_not_run)
    monkeypatch.setattr(local_commands, "verify_local", must_not_run)
    (tmp_path / "warehouse.duckdb").write_bytes(b"")  # a local run would be readable

    code = cli.main(["verify", *(flag.format(tmp=tmp_path) for flag in flags)])

    err = capsys.readouterr().err
    assert code == 2
    assert complaint in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flags", "remote"),
    [
        ([], False),
        (["--workdir", "x"], False),
        (["--stack", "dev"], True),
        (["--stack", "dev", "--workgroup", "other"], True),  # a flag wins over the stack
        (["--workgroup", "w", "--database", "d", "--processed-bucket", "b"], True),
        (["--stack", "dev", "--region", "eu-west-1"], True),
    ],
)
def test_verify_reads_the_warehouse_its_flags_name(flags, remote):
    from pipeline.cli import local as local_commands
    from pipeline.cli import main as cli

    args = cli.build_parser().parse_args(["verify", *flags])
    assert local_commands.verify_is_remote(args) is remote


class Poller:
    """What `watch_execution` does to the display, on a fake clock: one call per poll."""

    def __init__(self, display: WatchDisplay) -> None:
        self.display = display
        self.current = T0
        display.now = lambda: self.current

    def poll(self, seconds: float, seen: ExecutionView) -> None:
        self.current = T0 + timedelta(seconds=seconds)
        self.display(seen)


def test_without_a_terminal_a_running_step_beats_at_most_once_a_minute():
    out, buffer = console()
    transforming = view("RUNNING", StepStatus.SUCCEEDED, StepStatus.RUNNING, StepStatus.PENDING)
    auditing = view("RUNNING", StepStatus.SUCCEEDED, StepStatus.SUCCEEDED, StepStatus.RUNNING)
    with WatchDisplay(out) as display:
        poller = Poller(display)
        for seconds in (10, 40, 69.9):  # only the first poll prints (the changes)
            poller.poll(seconds, transforming)
        lines_within_the_minute = len(buffer.getvalue().splitlines())
        for seconds in (70, 100, 129, 131):
            poller.poll(seconds, transforming)
        poller.poll(140, auditing)
        poller.poll(199, auditing)
    assert lines_within_the_minute == 2
    assert buffer.getvalue().splitlines() == [
        "✓ IngestRaw succeeded 1m05s",
        "▶ TransformTrips running ",
        "▶ TransformTrips still running 1m10s",  # 60 s after the last line, with the step's time
        "▶ TransformTrips still running 2m11s",
        "✓ TransformTrips succeeded 1m05s",  # a change prints at once and restarts the minute
        "▶ AuditMonth running ",
    ]


def test_without_a_terminal_the_execution_beats_between_steps_and_not_once_ended():
    out, buffer = console()
    checking = view("RUNNING", StepStatus.PENDING, StepStatus.PENDING, StepStatus.PENDING)
    ended = view("FAILED", StepStatus.PENDING, StepStatus.PENDING, StepStatus.PENDING)
    with WatchDisplay(out) as display:
        poller = Poller(display)
        poller.poll(0, checking)
        poller.poll(61, checking)
        poller.poll(200, ended)
    assert buffer.getvalue().splitlines() == ["… yellow-2024-09-manual-x RUNNING 1m01s"]


def test_a_refused_month_shows_as_refused_with_each_finding(capsys):
    out, buffer = console()
    refused = view(*("FAILED", StepStatus.SUCCEEDED, StepStatus.SUCCEEDED, StepStatus.SUCCEEDED,
                     StepStatus.PENDING))  # fmt: skip
    refused.error = "MonthRefused"
    refused.cause = "AuditMonth refused yellow 2024-09: nothing was published"
    refused.input = {"year": "2024", "month": "09", "dataset": "yellow"}
    refused.findings = [
        {"rule": "other_month", "severity": "refuse", "message": "most pickups are not in 2024-09"},
        {"rule": "unmapped_values", "severity": "warn", "message": "payment_type 3 rows"},
    ]

    assert render_final(out, refused, quiet=True) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "✗ yellow-2024-09-manual-x REFUSED: refused: AuditMonth refused yellow 2024-09: "
        "nothing was published"
    )
    assert err[1:] == [
        "  refuse: other_month: most pickups are not in 2024-09",
        "  warn: unmapped_values: payment_type 3 rows",
    ]
    render_status(out, runs.StatusResult([runs.MachineExecutions("monthly", MACHINE, [refused])],
                                          T0))  # fmt: skip
    text = buffer.getvalue()
    assert "REFUSED" in text
    assert "refuse: other_month: most pickups are not in 2024-09" in text


@pytest.mark.parametrize("command", ["start", "backfill"])
def test_start_and_backfill_take_force_publish(command):
    import argparse as parsing

    from pipeline.cli.stack import add_parsers

    parser = parsing.ArgumentParser()
    add_parsers(parser.add_subparsers(dest="command"))
    months = ["--year", "2024", "--month", "9"] if command == "start" else [
        "--from", "2024-01", "--to", "2024-02"]  # fmt: skip
    given = parser.parse_args([command, "--stack", "dev", *months, "--force-publish"])
    plain = parser.parse_args([command, "--stack", "dev", *months])
    assert (given.force_publish, plain.force_publish) == (True, False)


def test_status_fits_80_columns_with_whole_header_words_and_no_ellipsis():
    buffer = io.StringIO()
    out = Console(file=buffer, width=80, force_terminal=False, color_system=None)
    failed = view("FAILED", StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.PENDING)
    failed.steps[1].error, failed.steps[1].cause = "States.TaskFailed", "Spark died"
    failed.input = {"year": "2024", "month": "09", "dataset": "yellow"}
    done = view("SUCCEEDED", *[StepStatus.SUCCEEDED] * 3)
    render_status(out, runs.StatusResult([runs.MachineExecutions("monthly", MACHINE,
                                                                 [failed, done])], T0))  # fmt: skip
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in buffer.getvalue()
    header = lines[1].split()
    assert header == ["execution", "loads", "status", "started", "(UTC)", "time", "steps", "error"]
    assert "2024-11-01 12:00" in buffer.getvalue()
    assert "SUCCEEDED" in buffer.getvalue()
