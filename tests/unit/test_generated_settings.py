"""Values generated once into DATA_DIR (server key, events secret, SWR instance id): every process
sharing the directory reads the same one, however many start at once; a set value wins."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from repohub.config import Settings


def _settings(data_dir: Path, **values: object) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None, **values)


def test_the_instance_id_is_generated_once_and_kept(tmp_path):
    first = _settings(tmp_path).resolved_swr_instance_id
    assert uuid.UUID(first)  # a fresh id, not a fixed default
    assert _settings(tmp_path).resolved_swr_instance_id == first  # a restart reads it back
    assert (tmp_path / "swr-instance.id").read_text() == first
    assert _settings(tmp_path / "other").resolved_swr_instance_id != first


def test_a_set_instance_id_wins_and_must_be_one_path_segment(tmp_path):
    assert _settings(tmp_path, swr_instance_id="replicas-1").resolved_swr_instance_id == "replicas-1"
    assert not (tmp_path / "swr-instance.id").exists()
    for bad in ("a/b", "", "../x", "x" * 65, "a b", "-a"):
        with pytest.raises(ValidationError):
            _settings(tmp_path, swr_instance_id=bad)


GENERATED = ["resolved_swr_instance_id", "resolved_events_secret", "resolved_secret_key"]
# Each process waits for the "go" file, then makes its first use of the value in every directory.
_FIRST_USES = """
import sys, time
from pathlib import Path
from repohub.config import Settings
root, value, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while not (root / "go").exists():
    time.sleep(0.001)
print(" ".join(getattr(Settings(data_dir=root / str(n), _env_file=None), value) for n in range(count)))
"""


def _first_uses_at_once(root: Path, value: str, processes: int, directories: int) -> list[list[str]]:
    for number in range(directories):
        (root / str(number)).mkdir(parents=True)
    command = [sys.executable, "-c", _FIRST_USES, str(root), value, str(directories)]
    started = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    time.sleep(2)  # every process imported and waiting
    (root / "go").touch()
    answers = []
    for process in started:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        answers.append(out.split())
    return answers


@pytest.mark.parametrize("value", GENERATED)
def test_processes_starting_together_agree_on_one_value(tmp_path, value):
    """Six processes sharing a data directory make their first use at once, in 100 directories:
    none fails, all read the same value, nothing is left over."""
    answers = _first_uses_at_once(tmp_path, value, processes=6, directories=100)
    assert all(answer == answers[0] for answer in answers) and len(answers[0]) == 100
    assert not [path for path in tmp_path.rglob("*") if path.name.endswith(".tmp")]
