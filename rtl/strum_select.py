"""StruM selection networks: the mask-driven routing that the structured sparsity costs.

Both are combinational and built from the same prefix count: rank[l] = number of ones in
mask[0..l-1] (a ripple of B incrementers). Lane l is the (rank[l])-th high lane when mask[l] = 1
and the (l - rank[l])-th low lane otherwise (lane order, as in the block word). With exactly K
ones in the mask, the i-th high lane lies in lanes i..i+B-K and the i-th low lane in lanes
i..i+K, so each output is an AND-OR multiplexer over only those candidates. Outputs for a mask
with a popcount other than K are unspecified (the golden model rejects such blocks).

With groups = G > 1 (select="group"), the block is G groups of B/G consecutive lanes with
exactly K/G high lanes each; group g is one StrumSelect / StrumScatter(B/G, K/G) on lanes
[g*B/G, (g+1)*B/G), high slots [g*K/G, (g+1)*K/G) and low slots [g*(B-K)/G, (g+1)*(B-K)/G)
(lane order = group-major order, so the ports and the block word are the same as the
block-wide network's). The prefix count and the muxes stay inside a group: B=16, K=8, G=8 is
one 1-bit rank and 2:1 muxes per pair of lanes. Outputs are unspecified unless every group of
the mask has exactly K/G ones.
"""
from amaranth import C, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from quantpe.golden.errors import ConfigError

__all__ = ["StrumSelect", "StrumScatter", "prefix_ranks"]


def prefix_ranks(m: Module, mask, block: int) -> list:
    """rank[l] = popcount(mask[0:l]) for l < block: rank[0] = 0, then Signals of range(l + 1)."""
    ranks = [C(0, 1)]
    for lane in range(1, block):
        r = Signal(range(lane + 1), name=f"rank{lane}")
        m.d.comb += r.eq(ranks[-1] + mask[lane - 1])
        ranks.append(r)
    return ranks


def _or_select(cands):
    """OR of Mux(sel, value, 0) over (sel, value) candidates (a one-hot AND-OR multiplexer)."""
    out = None
    for sel, value in cands:
        term = Mux(sel, value, 0)
        out = term if out is None else out | term
    return out


def _check_groups(block: int, k: int, groups: int) -> None:
    if not (1 <= k < block and groups >= 1 and block % groups == 0 and k % groups == 0):
        raise ConfigError(f"selection network: need 1 <= k < block and groups dividing both, "
                          f"got block={block}, k={k}, groups={groups}")


class StrumSelect(wiring.Component):
    """Static PE: route the B lane activations to the K high units and the B-K low units.

    Ports: mask (B bits, bit l = lane l is high), lanes (B x width raw bits, lane 0 in the LSBs)
    -> high (K x width): high[i] = lanes[l] of the i-th set mask bit;
       low (B-K x width): low[i] = lanes[l] of the i-th clear mask bit. Combinational.
    With groups = G, the same per group of B/G lanes (module docstring).
    """

    def __init__(self, block: int, k: int, width: int, groups: int = 1):
        _check_groups(block, k, groups)
        self.block, self.k, self.width, self.groups = block, k, width, groups
        super().__init__({
            "mask": In(block),
            "lanes": In(data.ArrayLayout(unsigned(width), block)),
            "high": Out(data.ArrayLayout(unsigned(width), k)),
            "low": Out(data.ArrayLayout(unsigned(width), block - k)),
        })

    def elaborate(self, platform):
        m = Module()
        B, K, G = self.block, self.k, self.groups
        if G > 1:
            L, KG = B // G, K // G
            NL = L - KG
            for g in range(G):
                sub = m.submodules[f"group{g}"] = StrumSelect(L, KG, self.width)
                m.d.comb += [sub.mask.eq(self.mask[g * L:(g + 1) * L])]
                m.d.comb += [sub.lanes[i].eq(self.lanes[g * L + i]) for i in range(L)]
                m.d.comb += [self.high[g * KG + i].eq(sub.high[i]) for i in range(KG)]
                m.d.comb += [self.low[g * NL + i].eq(sub.low[i]) for i in range(NL)]
            return m
        rank = prefix_ranks(m, self.mask, B)
        for i in range(K):
            cands = [(self.mask[lane] & (rank[lane] == i), self.lanes[lane])
                     for lane in range(i, min(B, i + B - K + 1))]
            m.d.comb += self.high[i].eq(_or_select(cands))
        for i in range(B - K):
            cands = [(~self.mask[lane] & (rank[lane] == lane - i), self.lanes[lane])
                     for lane in range(i, min(B, i + K + 1))]
            m.d.comb += self.low[i].eq(_or_select(cands))
        return m


class StrumScatter(wiring.Component):
    """Dynamic PE: route the K high codes and B-K low codes to their lanes.

    Ports: mask (B bits), hi (K x hb raw bits), lo (B-K x lb raw bits)
    -> lane_hi (B x hb): lane_hi[l] = hi[rank[l]]  (meaningful where mask[l] = 1)
       lane_lo (B x lb): lane_lo[l] = lo[l - rank[l]]  (meaningful where mask[l] = 0).
    Combinational. With groups = G, the same per group of B/G lanes (module docstring).
    """

    def __init__(self, block: int, k: int, hb: int, lb: int, groups: int = 1):
        _check_groups(block, k, groups)
        self.block, self.k, self.hb, self.lb, self.groups = block, k, hb, lb, groups
        super().__init__({
            "mask": In(block),
            "hi": In(data.ArrayLayout(unsigned(hb), k)),
            "lo": In(data.ArrayLayout(unsigned(lb), block - k)),
            "lane_hi": Out(data.ArrayLayout(unsigned(hb), block)),
            "lane_lo": Out(data.ArrayLayout(unsigned(lb), block)),
        })

    def elaborate(self, platform):
        m = Module()
        B, K, G = self.block, self.k, self.groups
        if G > 1:
            L, KG = B // G, K // G
            NL = L - KG
            for g in range(G):
                sub = m.submodules[f"group{g}"] = StrumScatter(L, KG, self.hb, self.lb)
                m.d.comb += [sub.mask.eq(self.mask[g * L:(g + 1) * L])]
                m.d.comb += [sub.hi[i].eq(self.hi[g * KG + i]) for i in range(KG)]
                m.d.comb += [sub.lo[i].eq(self.lo[g * NL + i]) for i in range(NL)]
                m.d.comb += [self.lane_hi[g * L + i].eq(sub.lane_hi[i]) for i in range(L)]
                m.d.comb += [self.lane_lo[g * L + i].eq(sub.lane_lo[i]) for i in range(L)]
            return m
        rank = prefix_ranks(m, self.mask, B)
        for lane in range(B):
            # a high lane l is high slot r = rank[l] with l-(B-K) <= r <= min(l, K-1)
            cands = [(rank[lane] == r, self.hi[r]) for r in range(max(0, lane - (B - K)), min(lane, K - 1) + 1)]
            m.d.comb += self.lane_hi[lane].eq(_or_select(cands))
            # a low lane l is low slot i = l - rank[l] with l-K <= i <= min(l, B-K-1)
            cands = [(rank[lane] == lane - i, self.lo[i]) for i in range(max(0, lane - K), min(lane, B - K - 1) + 1)]
            m.d.comb += self.lane_lo[lane].eq(_or_select(cands))
        return m
