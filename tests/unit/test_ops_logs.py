"""Where `logs` looks for a step's Glue run: its kind's groups, and a security configuration's."""

from __future__ import annotations

from pipeline.contract.steps import STEPS, step_named
from pipeline.ops.logs import glue_log_groups

INGEST, TRANSFORM = step_named("ingest_raw"), step_named("transform_trips")


def test_python_shell_and_spark_jobs_log_to_their_own_groups():
    assert glue_log_groups(INGEST, None) == [
        "/aws-glue/python-jobs/output",
        "/aws-glue/python-jobs/error",
    ]
    assert glue_log_groups(TRANSFORM, {"LogGroupName": "/aws-glue/jobs"}) == [
        "/aws-glue/jobs/output",
        "/aws-glue/jobs/error",
        "/aws-glue/jobs/logs-v2",
    ]


def test_a_security_configuration_log_group_is_searched_too():
    groups = glue_log_groups(INGEST, {"LogGroupName": "/aws-glue/jobs-tlc-secure/"})
    assert groups[-2:] == ["/aws-glue/jobs-tlc-secure/output", "/aws-glue/jobs-tlc-secure/error"]


def test_every_step_kind_has_log_groups():
    assert all(glue_log_groups(step, None) for step in STEPS)


def test_a_spark_job_with_a_custom_prefix_logs_to_its_own_groups_not_glues():
    job = {
        "DefaultArguments": {"--custom-logGroup-prefix": "/aws-glue/tlc-elt-dev/transform_trips/"}
    }
    assert glue_log_groups(TRANSFORM, {"LogGroupName": "/aws-glue/jobs"}, job) == [
        "/aws-glue/tlc-elt-dev/transform_trips/output",
        "/aws-glue/tlc-elt-dev/transform_trips/error",
        "/aws-glue/jobs/logs-v2",
    ]
    # A run started with other arguments logs where they say, as Glue does.
    run = {"Arguments": {"--custom-logGroup-prefix": "/elsewhere"}}
    assert glue_log_groups(TRANSFORM, run, job)[:2] == ["/elsewhere/output", "/elsewhere/error"]


def test_the_stacks_spark_job_arguments_name_the_groups_logs_reads():
    from components import etl

    prefix = etl.job_log_prefix("tlc-elt-prod", TRANSFORM.job)
    job = {"DefaultArguments": etl.continuous_logging_arguments(prefix)}
    assert glue_log_groups(TRANSFORM, None, job)[:2] == [f"{prefix}/output", f"{prefix}/error"]
