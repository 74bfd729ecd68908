"""ONNX export refuses operator sets it is not tested with, and never damages a file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigurationError
from nnkit.files.onnx import SUPPORTED_OPSETS


def small_network() -> nnkit.Network:
    return nnkit.Network([nnkit.Dense(2, activation="softmax")], seed=0).build(3)


@pytest.mark.parametrize("opset", [-1, 5, 12, 999])
def test_an_untested_operator_set_is_refused_with_the_ones_that_work(tmp_path, opset):
    with pytest.raises(ConfigurationError, match=r"operator set .*13 to 21"):
        small_network().to_onnx(tmp_path / "m.onnx", opset=opset)
    assert not (tmp_path / "m.onnx").exists()


def test_the_cli_refuses_an_untested_operator_set(tmp_path, capsys):
    from nnkit.cli import main

    model = tmp_path / "m.nnkit"
    small_network().save(model)
    for opset in ("999", "5", "-1"):
        code = main(["export", str(model), "-o", str(tmp_path / "m.onnx"), "--opset", opset])
        err = capsys.readouterr().err
        assert code == 1 and "operator set" in err and "ValidationError" not in err
        assert not (tmp_path / "m.onnx").exists()


def test_every_supported_operator_set_exports(tmp_path):
    onnx = pytest.importorskip("onnx")
    for opset in SUPPORTED_OPSETS:
        model = small_network().to_onnx(tmp_path / f"m{opset}.onnx", opset=opset)
        assert onnx.load(tmp_path / f"m{opset}.onnx").opset_import[0].version == opset
        assert model.opset_import[0].version == opset


@pytest.mark.skipif(sys.platform == "win32", reason="file size limits are POSIX")
def test_a_failed_export_leaves_the_existing_file_whole(tmp_path):
    """A file size limit fails the write part-way, as a full disk does."""
    pytest.importorskip("onnx")
    path = tmp_path / "m.onnx"
    small_network().to_onnx(path)
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        import nnkit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        net = nnkit.Network([nnkit.Dense(400)], seed=1).build(300)  # far over the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) // 2}, resource.RLIM_INFINITY))
        try:
            net.to_onnx({str(path)!r})
        except OSError as error:
            print("failed", error.errno)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.startswith("failed"), result.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_an_export_replaces_the_file_atomically(tmp_path, monkeypatch):
    import nnkit.files.onnx as onnx_module

    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    used = []
    real = onnx_module.atomic_output

    def spy(target):
        used.append(target)
        return real(target)

    monkeypatch.setattr(onnx_module, "atomic_output", spy)
    small_network().to_onnx(path)
    assert used == [path] and path.read_bytes() != b"old"
    np.testing.assert_equal(path.stat().st_size > 0, True)
