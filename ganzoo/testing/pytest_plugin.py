"""pytest fixtures for plugin authors: enable with ``pytest_plugins = ["ganzoo.testing.pytest_plugin"]``.

Put that line in your ``conftest.py`` (top level of the test folder). It is not loaded
automatically: installing ganzoo changes no other project's test run.

Fixtures:
    ganzoo_hub: a running local Hub (:func:`ganzoo.testing.local_hub`) with the client's
        ``HF_HOME`` under the test's ``tmp_path``; skipped when ``huggingface_hub`` is missing.

Example:
    ``conftest.py``::

        pytest_plugins = ["ganzoo.testing.pytest_plugin"]

    ``test_hub.py``::

        import ganzoo

        def test_round_trip(ganzoo_hub, tmp_path):
            ganzoo.push_to_hub(ganzoo.create("mygan"), "me/mygan")
            assert isinstance(ganzoo.load("hf-hub:me/mygan"), ganzoo.Generator)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

try:
    import pytest
except ImportError as exc:  # pytest is not a dependency of ganzoo: only pytest loads this module
    raise ImportError("ganzoo.testing.pytest_plugin is a pytest plugin: pip install pytest") from exc


@pytest.fixture
def ganzoo_hub(tmp_path: Path) -> Iterator[object]:
    """A local Hub server the real ``huggingface_hub`` client talks to, for one test."""
    pytest.importorskip("huggingface_hub")
    from ganzoo.testing.hub import local_hub

    with local_hub(tmp_path / "hf_home") as server:
        yield server
