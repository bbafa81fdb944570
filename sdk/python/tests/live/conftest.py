"""The live stack: the gateway at $CINEMA_GATEWAY_ADDR and tokens from the dev issuer.

    export CINEMA_GATEWAY_ADDR=127.0.0.1:8080
    export CINEMA_TOKEN=$(cargo xtask token --customer kim)
    export CINEMA_OTHER_TOKEN=$(cargo xtask token --customer lee)
    export CINEMA_ADMIN_TOKEN=$(cargo xtask token --customer admin --role admin)
    PYTHONPATH=sdk/python/src python -m pytest sdk/python/tests/live

The session registers its own movie and schedules its own screening, at a random
day years ahead, so runs never share seats; each test books seats of its own.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import TypeVar

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from cinema_client import Client, Money, screening_pb2, seats_pb2

T = TypeVar("T")


@dataclass(frozen=True)
class Stack:
    target: str
    token: str
    other_token: str
    admin_token: str

    @property
    def customer_id(self) -> str:
        """The `sub` of CINEMA_TOKEN (read, not verified: the gateway verifies)."""
        payload = self.token.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])

    def client(self, token: str | None = None) -> Client:
        return Client(self.target, token=token or self.token)


@dataclass
class Screening:
    """A screening of this session's own movie, with a seat dealer: no two tests share seats."""

    screening_id: str
    seat_ids: list[str]
    _next: int = field(default=0)

    def seats(self, n: int) -> list[str]:
        taken = self.seat_ids[self._next : self._next + n]
        assert len(taken) == n, "the screening ran out of seats: use fewer per test"
        self._next += n
        return taken


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            f"{name} is not set: the live tests need the stack (see {__file__}); "
            "sdk/python/tests/offline runs without it",
            pytrace=False,
        )
    return value


@pytest.fixture(scope="session")
def stack() -> Stack:
    return Stack(
        target=env("CINEMA_GATEWAY_ADDR"),
        token=env("CINEMA_TOKEN"),
        other_token=env("CINEMA_OTHER_TOKEN"),
        admin_token=env("CINEMA_ADMIN_TOKEN"),
    )


@pytest.fixture(scope="session")
def screening(stack: Stack) -> Iterator[Screening]:
    with stack.client(stack.admin_token) as admin:
        movie = admin.services.screening.RegisterMovie(
            screening_pb2.RegisterMovieRequest(
                title=f"SDK test {uuid.uuid4().hex[:8]}",
                status=screening_pb2.MOVIE_STATUS_RUNNING,
                running_minutes=100,
            ),
            timeout=10,
        )
        starts_at = Timestamp()
        starts_at.FromDatetime(
            datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            + timedelta(days=random.randrange(400, 3600), hours=random.randrange(24))
        )
        scheduled = admin.services.screening.ScheduleScreening(
            screening_pb2.ScheduleScreeningRequest(
                movie_id=movie.movie_id,
                starts_at=starts_at,
                price=Money(currency="KRW", amount=12000),
            ),
            timeout=10,
        )
        # The seats service builds the inventory from the ScreeningScheduled event.
        seat_map = poll(
            lambda: admin.services.seats.GetSeatMap(
                seats_pb2.GetSeatMapRequest(screening_id=scheduled.screening_id), timeout=5
            ),
            until=lambda m: len(m.seats) > 0,
            what="the new screening's seat map",
            errors=(Exception,),
        )
        screen = scheduled.screen
        expected = [
            f"{row}-{n}" for row, n in product(screen.rows, range(1, screen.seats_per_row + 1))
        ]
        assert sorted(s.seat_id for s in seat_map.seats) == sorted(expected)
        yield Screening(scheduled.screening_id, expected)


def poll(
    read: Callable[[], T],
    until: Callable[[T], bool],
    what: str,
    deadline: float = 10.0,
    errors: tuple[type[BaseException], ...] = (),
) -> T:
    """Reads until `until` holds, or fails at the deadline (no sleep stands for a wait)."""
    end = time.monotonic() + deadline
    last: object = None
    while True:
        try:
            value = read()
            if until(value):
                return value
            last = value
        except errors as e:
            last = e
        if time.monotonic() > end:
            pytest.fail(f"{what}: not there after {deadline} s (last: {last!r:.300})")
        time.sleep(0.05)
