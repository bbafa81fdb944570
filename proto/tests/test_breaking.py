"""The contract gate: `buf lint` and `buf breaking` against the released baseline.

Runs without a stack: `python -m pytest proto/tests` (buf from $BUF, PATH or the
tool venv). Each mutation copies the contracts to a temp dir, changes one thing a
released client depends on, and expects `buf breaking` to refuse it by name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROTO = Path(__file__).resolve().parents[1]
BASELINE = PROTO / "baseline" / "cinema-v1.binpb"


def buf_binary() -> str:
    candidates = [
        os.environ.get("BUF"),
        shutil.which("buf"),
        str(Path.home() / ".cache/cinema/tools/bin/buf"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("buf not found: set BUF, put buf on PATH, or pip install buf-bin")


def buf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [buf_binary(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def breaking(module: Path) -> subprocess.CompletedProcess[str]:
    return buf("breaking", str(module), "--against", str(BASELINE))


@pytest.fixture
def contracts(tmp_path: Path) -> Path:
    """A copy of the module (buf.yaml and the .proto files) to change freely."""
    copy = tmp_path / "proto"
    copy.mkdir()
    shutil.copy(PROTO / "buf.yaml", copy)
    for tree in ("cinema", "google"):
        shutil.copytree(PROTO / tree, copy / tree)
    return copy


def remove_line(file: Path, line: str) -> None:
    text = file.read_text()
    assert f"{line}\n" in text, f"{file.name} no longer has {line!r}: update this test"
    file.write_text(text.replace(f"{line}\n", "", 1))


def test_lint_passes() -> None:
    result = buf("lint", str(PROTO))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_contracts_as_they_are_keep_the_baseline() -> None:
    result = breaking(PROTO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("file", "line", "expected"),
    [
        # A field of a public API message (REST and gRPC clients read it).
        (
            "cinema/reservation/v1/reservation.proto",
            "  string reason = 6;",
            'field "6" with name "reason" on message "Booking" was deleted',
        ),
        # Events are versioned like the APIs: consumers decode old and new payloads.
        (
            "cinema/events/v1/events.proto",
            "  string reason = 7;",
            'field "7" with name "reason" on message "BookingStatusChanged" was deleted',
        ),
        # The baseline is the release that added the live seat map.
        (
            "cinema/seats/v1/seats.proto",
            "  rpc WatchSeatMap(WatchSeatMapRequest) returns (stream SeatMap) {\n"
            '    option (google.api.http) = {get: "/v1/screenings/{screening_id}/seats:watch"};\n'
            "  }",
            'RPC "WatchSeatMap" on service "SeatsService" was deleted',
        ),
    ],
    ids=["api-field", "event-field", "rpc"],
)
def test_removing_a_released_element_fails_the_gate(
    contracts: Path, file: str, line: str, expected: str
) -> None:
    remove_line(contracts / file, line)

    result = breaking(contracts)

    assert result.returncode != 0, "buf breaking accepted a removal"
    assert expected in result.stdout, result.stdout + result.stderr
    assert file in result.stdout


def test_renaming_a_field_fails_the_gate(contracts: Path) -> None:
    """A rename keeps the wire but changes the JSON name REST clients send."""
    file = contracts / "cinema/booking/v1/booking.proto"
    text = file.read_text()
    assert "  string card_token = 1;\n" in text
    file.write_text(text.replace("  string card_token = 1;\n", "  string card = 1;\n"))

    result = breaking(contracts)

    assert result.returncode != 0
    assert 'from "card_token" to "card"' in result.stdout, result.stdout
    assert 'from "cardToken" to "card"' in result.stdout, result.stdout
