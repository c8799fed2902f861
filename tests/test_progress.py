"""Progress of Python models: steps logged with their times under the model's name, Spark's jobs
named by model and step while they run, nothing logged outside a model."""

from __future__ import annotations

import re

import pytest

from lastfm_lakehouse import progress


def test_steps_are_logged_in_order_with_their_times(capsys: pytest.CaptureFixture[str]) -> None:
    progress.step("outside any model")  # a unit test or a notebook: nothing to say
    assert capsys.readouterr().err == ""
    with progress.model_scope("lastfm.mart_x", object()):
        progress.step("fit")
        progress.note("12 rows computed")
        progress.step("write")
    lines = [line.split("  ", 1)[1] for line in capsys.readouterr().err.splitlines()]
    assert lines[0] == "lastfm.mart_x: fit ..."
    assert lines[1] == "lastfm.mart_x: 12 rows computed"
    assert re.fullmatch(r"lastfm\.mart_x: fit done in \d+\.\d s", lines[2])
    assert lines[3] == "lastfm.mart_x: write ..."
    assert re.fullmatch(r"lastfm\.mart_x: write done in \d+\.\d s", lines[4])
    assert re.fullmatch(r"lastfm\.mart_x: Python model ended after \d+\.\d s", lines[5])


def test_a_failing_model_still_ends_its_step(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError), progress.model_scope("lastfm.mart_y", object()):
        progress.step("fit")
        raise ValueError("boom")
    assert "lastfm.mart_y: fit done in" in capsys.readouterr().err
    progress.step("after the scope")
    assert capsys.readouterr().err == ""


def test_spark_jobs_carry_the_model_and_step(spark) -> None:
    context = spark.sparkContext
    with progress.model_scope("lastfm.mart_z", spark):
        assert context.getLocalProperty("spark.job.description") == "lastfm.mart_z: model code"
        progress.step("score")
        assert context.getLocalProperty("spark.job.description") == "lastfm.mart_z: score"
        assert spark.range(10).count() == 10
    assert context.getLocalProperty("spark.job.description") is None
