"""How many part files transform writes a month as: bounded in size, parallel in between."""

from __future__ import annotations

import pytest

from pipeline.jobs.transform import MIN_ROWS_PER_PART_FILE, ROWS_PER_PART_FILE, part_files_for


@pytest.mark.parametrize(
    ("rows", "cores", "files"),
    [
        (0, 4, 1),  # an empty month still gets its (empty) part file
        (5, 4, 1),  # a small month is not scattered over every core
        (MIN_ROWS_PER_PART_FILE, 4, 1),
        (MIN_ROWS_PER_PART_FILE + 1, 4, 2),
        (3_404_205, 4, 4),  # a real month: one file per task slot
        (3_404_205, 2, 2),
        (3_404_205, 64, 4),  # never below MIN_ROWS_PER_PART_FILE a file
        (ROWS_PER_PART_FILE * 3 + 1, 2, 4),  # never above ROWS_PER_PART_FILE a file
    ],
)
def test_part_files_keep_files_between_the_bounds(rows, cores, files):
    assert part_files_for(rows, cores) == files
    assert rows <= files * ROWS_PER_PART_FILE
