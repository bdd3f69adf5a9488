"""ganzoo.fsio: every writer's one way to replace a file whole or not at all, attacked."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ganzoo.fsio import replace_file, temporary_name, write_bytes, write_json


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_file(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_link_at_the_target_is_replaced_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "report.html"
    target.symlink_to(victim)
    write_bytes(target, b"new")
    assert victim.read_text() == "precious"
    assert not target.is_symlink() and target.read_bytes() == b"new"


def test_the_temporary_name_cannot_be_guessed_or_planted(tmp_path):
    target = tmp_path / "stats.safetensors"
    names = {temporary_name(target) for _ in range(50)}
    assert len(names) == 50  # fresh every time: a link planted at one name is never used
    assert all(n.parent == tmp_path and n.name.endswith(".tmp.safetensors") for n in names)
    # a planted link at every name a pid-only scheme would choose is ignored
    victim = tmp_path / "victim"
    victim.write_text("precious")
    for guess in (f".{target.name}.{os.getpid()}.tmp", f"{target.name}.tmp"):
        (tmp_path / guess).symlink_to(victim)
    write_json(target, {"a": 1})
    assert victim.read_text() == "precious" and json.loads(target.read_text()) == {"a": 1}


def test_the_replaced_file_keeps_its_permission_bits(tmp_path):
    target = tmp_path / "eval.json"
    target.write_text("{}")
    target.chmod(0o640)
    write_json(target, {"fid": 1.0})
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_json_that_cannot_be_encoded_writes_nothing(tmp_path):
    target = tmp_path / "x.json"
    target.write_text('{"kept": true}')
    with pytest.raises(TypeError):
        write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"kept": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_the_stats_cache_never_writes_through_a_link_at_its_old_temporary_name(tmp_path):
    """The cache wrote `.NAME.PID.tmp` with the writer's own open(): a link planted there by another
    user of a shared cache folder was written through (found in the clean-up that made ganzoo.fsio)."""
    from ganzoo.metrics.cache import _atomic_write_bytes

    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "stats" / "floor.json"
    target.parent.mkdir()
    (target.parent / f".{target.name}.{os.getpid()}.tmp").symlink_to(victim)
    _atomic_write_bytes(target, lambda p: p.write_text('{"floor": 1}'))
    assert victim.read_text() == "precious" and json.loads(target.read_text()) == {"floor": 1}
