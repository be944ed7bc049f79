"""The multiplier library's product tables in the build cache (quantpe.core.table_store): made
once, read back by a later process, keyed by the config and the golden model's sources, and a
broken file made again."""
import numpy as np
import pytest

from quantpe.core.table_store import BuildTableStore, use_build_table_store
from quantpe.golden import approx
from quantpe.golden.approx import ApproxMulConfig, exact_table, mul_table

CFGS = [ApproxMulConfig(method="exact", a_bits=4, b_bits=4, signed=True),
        ApproxMulConfig(method="truncated", a_bits=4, b_bits=4, signed=True, t=3),
        ApproxMulConfig(method="drum", a_bits=8, b_bits=8, signed=True, k=4)]


@pytest.fixture
def store(build):
    s = use_build_table_store()
    yield s
    s.restore()


def _computed(cfg):
    old = approx.use_table_store(None)
    try:
        return np.array(mul_table(cfg))
    finally:
        approx.use_table_store(old)


def test_tables_are_written_once_and_read_back_by_a_later_process(store):
    first = [np.array(mul_table(c)) for c in CFGS]
    assert store.writes == 3 and store.reads == 0
    assert all(store.path(c).is_file() for c in CFGS) and len({store.path(c) for c in CFGS}) == 3
    later = use_build_table_store()            # a new process: an empty in-process cache
    try:
        again = [np.array(mul_table(c)) for c in CFGS]
        assert later.reads == 3 and later.writes == 0
    finally:
        later.restore()
    for c, a, b in zip(CFGS, first, again):
        assert (a == b).all() and (a == _computed(c)).all() and a.dtype == np.int64
    assert (first[0] == exact_table(4, 4, True)).all()


def test_a_stored_table_is_what_mul_table_returns(store):
    """The store is really read: a planted table comes back (hence the golden digest in the key)."""
    cfg = CFGS[1]
    planted = np.arange(256, dtype=np.int64).reshape(16, 16)
    store.path(cfg).parent.mkdir(parents=True)
    np.save(store.path(cfg), planted)
    approx.use_table_store(store)               # empty the in-process cache
    assert (mul_table(cfg) == planted).all() and store.reads == 1


@pytest.mark.parametrize("damage", ["truncated", "wrong shape", "wrong dtype"])
def test_a_broken_file_is_made_again(store, damage):
    cfg = CFGS[1]
    mul_table(cfg)
    p = store.path(cfg)
    if damage == "truncated":
        p.write_bytes(p.read_bytes()[:100])
    else:
        np.save(p, np.zeros((4, 4), np.int64) if damage == "wrong shape" else np.zeros((16, 16), np.int32))
    approx.use_table_store(store)
    assert (mul_table(cfg) == _computed(cfg)).all() and store.writes == 2
    assert (np.load(p) == _computed(cfg)).all()


def test_the_key_follows_the_golden_sources(store):
    other = BuildTableStore()
    assert other.path(CFGS[2]) == store.path(CFGS[2])
    other._golden = "0" * 16                    # another golden model: another table
    assert other.path(CFGS[2]) != store.path(CFGS[2])


def test_the_command_line_uses_the_store_and_gives_the_old_one_back(cli, build):
    assert approx._TABLE_STORE is None
    code, _, err = cli(["characterize", "--method", "truncated", "--a-bits", "4", "--b-bits", "4", "--signed",
                        "--t", "3", "-o", build / "out"])
    assert approx._TABLE_STORE is None, err
    assert code == 0, err
    assert list((build / "build" / "tables").glob("*.npy"))


def test_an_unusable_build_folder_only_costs_the_cache(tmp_path, monkeypatch):
    """A build folder that cannot hold files (a file there) or cannot be named: the tables are
    still made, right, and nothing is written."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for root in (blocker / "build", tmp_path / 'with"quote'):
        monkeypatch.setenv("QUANTPE_BUILD", str(root))
        s = use_build_table_store()
        try:
            assert (mul_table(CFGS[1]) == _computed(CFGS[1])).all() and s.writes == 0 and s.reads == 0
        finally:
            s.restore()
    assert not (tmp_path / 'with"quote').exists()
