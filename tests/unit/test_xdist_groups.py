"""The suite relies on `--dist loadgroup` keeping a module's tests, which share one world, on
one xdist worker (a module-scoped world is then started once, not once per worker)."""

from __future__ import annotations

import re

import pytest

pytest_plugins = ["pytester"]


def test_tests_of_one_xdist_group_run_on_one_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xdist_group("one-world")
        @pytest.mark.parametrize("i", range(6))
        def test_grouped(i):
            pass

        @pytest.mark.parametrize("i", range(6))
        def test_free(i):
            pass
        """
    )
    # Only xdist: the other plugins installed here (ours, locust, schemathesis) only cost time.
    quiet = [f"-pno:{name}" for name in ("devnet", "locust", "schemathesis", "hypothesispytest", "anyio")]
    result = pytester.runpytest_subprocess(*quiet, "-n", "2", "--dist", "loadgroup", "-v")
    result.assert_outcomes(passed=12)
    workers = set(re.findall(r"\[(gw\d+)\].*::test_grouped", result.stdout.str()))
    assert len(workers) == 1, f"grouped tests ran on {sorted(workers)}"
