"""Which failures are worth another attempt, and how long to wait before it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from .errors import CinemaError


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying a call (BookTickets, CancelBooking) and on re-opening a watch.

    Times are in seconds.
    """

    #: Attempts in all, the first one included.
    max_attempts: int = 5
    #: The backoff before the second attempt; it doubles per attempt up to max_backoff.
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    #: No attempt starts, and none runs, past this long after the first one started.
    deadline: float = 15.0


def is_retryable(error: CinemaError) -> bool:
    """UNAVAILABLE is always worth a retry (nothing happened, or the request id makes
    the retry the same call); RESOURCE_EXHAUSTED only when the server said when
    (RetryInfo): without it, it is a limit the caller should hear about."""
    return error.code == grpc.StatusCode.UNAVAILABLE or (
        error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_delay is not None
    )


def backoff(
    attempt: int,
    policy: RetryPolicy,
    retry_delay: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """The wait before attempt `attempt + 1` (attempts count from 1): exponential
    backoff with equal jitter (half fixed, half random), or the server's RetryInfo
    delay plus up to one initial backoff of jitter, whichever is longer."""
    cap = min(policy.max_backoff, policy.initial_backoff * 2.0 ** (attempt - 1))
    wait = cap / 2 + rand() * cap / 2
    if retry_delay is None:
        return wait
    return max(wait, retry_delay + rand() * policy.initial_backoff)


#: What Client and AsyncClient use unless given another.
DEFAULT_RETRY = RetryPolicy()
