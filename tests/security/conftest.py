"""The security suite's fixtures, and its tally printed as one summary line at the end.

Tests increment the session-wide tally (`tests.support.tally.TALLY`, through the `tally`
fixture) with what they tried and what they saw go wrong; the counters are reported whether
the tests pass or fail, so a run says in one line how much was thrown at the service and
what got through:

    security: inputs tried=12345 forged accepted=0 5xx=0 duplicates side-effected=0 ...
"""

from __future__ import annotations

import pytest

from tests.support.tally import TALLY, Tally


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


@pytest.fixture(autouse=True)
def _count_security_test() -> None:
    TALLY.tests += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY.tests:
        terminalreporter.write_sep("-", "security summary")
        terminalreporter.write_line(TALLY.line())
