"""Shared pytest options: a reproducible seed for every random test, and --slow sweeps."""
import os
import random

import pytest

_SEED = None


def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=None,
                     help="seed for every random test (default: $QUANTPE_SEED or a fresh one)")
    parser.addoption("--slow", action="store_true", help="also run the long sweeps")


def pytest_configure(config):
    global _SEED
    _SEED = config.getoption("--seed")
    if _SEED is None and os.environ.get("QUANTPE_SEED"):
        _SEED = int(os.environ["QUANTPE_SEED"])
    if _SEED is None:
        # xdist workers must share the controller's seed: pass it through the environment
        _SEED = random.SystemRandom().randrange(1 << 31)
        os.environ["QUANTPE_SEED"] = str(_SEED)


def pytest_report_header(config):
    return f"quantpe seed: {_SEED} (rerun with --seed {_SEED})"


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="long sweep: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def seed(request):
    """The session seed, printed with the test so a failure names it."""
    print(f"seed={_SEED}")
    return _SEED


@pytest.fixture
def build(tmp_path, monkeypatch):
    """A private build cache under tmp_path (returned) for tests that run the CLI or the flow."""
    monkeypatch.setenv("QUANTPE_BUILD", str(tmp_path / "build"))
    return tmp_path


@pytest.fixture
def cli(capsys):
    """Run `quantpe ARGS...` in-process: cli([...]) -> (exit status, stdout, stderr)."""
    from quantpe.cli import main

    def run(args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run
