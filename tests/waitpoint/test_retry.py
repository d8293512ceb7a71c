"""The one retry helper: attempts, a time budget, and backoff that grows and resets."""

from __future__ import annotations

import pytest

from waitpoint.retry import Backoff, retry


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"failure {self.calls}")
        return "done"


async def test_retries_until_it_succeeds():
    operation = Flaky(failures=2)
    seen = []
    result = await retry(operation, retry_on=(ConnectionError,), attempts=3,
                         backoff=Backoff(initial=0), on_retry=lambda e, _d: seen.append(str(e)))
    assert result == "done" and operation.calls == 3
    assert seen == ["failure 1", "failure 2"]


async def test_gives_up_after_its_attempts_with_the_last_error():
    operation = Flaky(failures=5)
    with pytest.raises(ConnectionError, match="failure 3"):
        await retry(operation, retry_on=(ConnectionError,), attempts=3,
                    backoff=Backoff(initial=0))
    assert operation.calls == 3


async def test_other_errors_are_not_retried():
    async def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await retry(broken, retry_on=(ConnectionError,), attempts=5)


async def test_a_time_budget_ends_the_retries():
    operation = Flaky(failures=10_000)
    with pytest.raises(ConnectionError):
        await retry(operation, retry_on=(ConnectionError,), within=0.05,
                    backoff=Backoff(initial=0.01, maximum=0.01))
    assert 1 < operation.calls < 10_000


def test_backoff_grows_to_its_maximum_and_resets():
    backoff = Backoff(initial=0.1, maximum=0.5)
    assert [backoff.next_delay() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next_delay() == 0.1


async def test_retry_needs_a_limit():
    with pytest.raises(ValueError, match="attempts"):
        await retry(Flaky(0), retry_on=(ConnectionError,))
