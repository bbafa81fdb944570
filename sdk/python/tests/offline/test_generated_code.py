"""The checked-in generated code is what generate.py makes from proto/ now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GENERATE = Path(__file__).resolve().parents[2] / "generate.py"


def test_generated_code_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATE), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_google_rpc_comes_from_googleapis_common_protos() -> None:
    """Either import order works: google/rpc/status.proto is registered once, by
    googleapis-common-protos, as every other library that uses it expects."""
    for code in (
        "import cinema_client; import google.rpc.status_pb2, google.rpc.error_details_pb2",
        "import google.rpc.status_pb2, google.rpc.error_details_pb2; import cinema_client",
    ):
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
