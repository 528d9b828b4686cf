from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.cluster import remove_run_containers


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="session")
def docker_ready() -> Iterator[None]:
    """The Docker engine and the locally built test image. Docker tests fail
    (not skip) without them: CI installs both."""
    if not _docker_available():
        pytest.fail("the Docker engine is not reachable; tests/docker needs it")
    from tests.cluster import ensure_test_image

    ensure_test_image()
    yield
    remove_run_containers()
