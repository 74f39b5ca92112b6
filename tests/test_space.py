"""The CVPR 2019 search space (SPEC §3): operations, genotype text and checks, canonical hash,
sampling, the cell/decoder on random genotypes and auxiliary-head stripping."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nasseg.errors import NassegError
from nasseg.models import PUBLISHED, build_model, count_params, strip_aux
from nasseg.models.zoo import SegmentationModel
from nasseg.errors import GenotypeError
from nasseg.spaces.cells import CellSpace, Genotype
from nasseg.spaces.cells.decoder import Decoder
from nasseg.spaces.cells.ops import NUM_OPS, OP_NAMES, OPS, SepConv, make_op

TAP_CHANNELS = (24, 32, 96, 320)
ARCH0 = Genotype.from_text(PUBLISHED["arch0"])
ARCH1 = Genotype.from_text(PUBLISHED["arch1"])
ARCH2 = Genotype.from_text(PUBLISHED["arch2"])
VALID = [[8, [0, 0, 5, 2], [0, 2, 8, 8], [0, 5, 1, 4]], [[3, 3], [3, 2], [3, 0]]]  # arch0 as a list


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# =========================================================================== operations
def test_op_registry_matches_spec_order():
    assert OP_NAMES == ("conv1x1", "conv3x3", "sep3x3", "sep5x5", "gap", "conv3x3_d3", "conv3x3_d12",
                        "sep3x3_d3", "sep5x5_d6", "skip", "zero")
    assert NUM_OPS == 11 == len(OPS)


@pytest.mark.parametrize("index", range(len(OPS)), ids=OP_NAMES)
@pytest.mark.parametrize("repeats", [1, 2])
def test_op_keeps_shape_and_backprops(index, repeats):
    torch.manual_seed(index)
    op = make_op(index, 8, repeats).train()
    x = torch.randn(2, 8, 12, 10, requires_grad=True)  # non-square: catches H/W mix-ups
    y = op(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    for name, p in op.named_parameters():
        assert p.grad is not None, f"{OP_NAMES[index]}: parameter {name} got no gradient"
    # eval mode too (running statistics)
    with torch.no_grad():
        assert op.eval()(x).shape == x.shape


def test_zero_op_outputs_zeros_and_skip_is_identity():
    x = torch.randn(2, 4, 6, 6) * 100
    z = make_op(OP_NAMES.index("zero"), 4)(x)
    assert z.shape == x.shape and torch.count_nonzero(z) == 0
    s = make_op(OP_NAMES.index("skip"), 4)
    assert torch.equal(s(x), x)
    assert n_params(s) == 0 and n_params(make_op(OP_NAMES.index("zero"), 4)) == 0


@pytest.mark.parametrize("name", ["sep3x3", "sep5x5", "sep3x3_d3", "sep5x5_d6"])
def test_sep_ops_repeats_double_parameters(name):
    i = OP_NAMES.index(name)
    one, two = make_op(i, 16, 1), make_op(i, 16, 2)
    assert isinstance(one, SepConv)
    k = {"sep3x3": 3, "sep5x5": 5, "sep3x3_d3": 3, "sep5x5_d6": 5}[name]
    # depthwise k*k*C + pointwise C*C + affine BN 2C, per repeat
    assert n_params(one) == 16 * k * k + 16 * 16 + 2 * 16
    assert n_params(two) == 2 * n_params(one)


@pytest.mark.parametrize("name", ["conv1x1", "conv3x3", "gap", "conv3x3_d3", "conv3x3_d12", "skip", "zero"])
def test_non_sep_ops_ignore_repeats(name):
    i = OP_NAMES.index(name)
    assert n_params(make_op(i, 8, 1)) == n_params(make_op(i, 8, 2))


def test_gap_output_is_constant_over_space():
    op = make_op(OP_NAMES.index("gap"), 4).eval()
    y = op(torch.randn(2, 4, 7, 9))
    assert torch.allclose(y, y[:, :, :1, :1].expand_as(y))


# =========================================================================== genotype text
@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_text_round_trips(name):
    text = PUBLISHED[name]
    g = Genotype.from_text(text)
    assert g.to_text() == text
    assert str(g) == text
    assert Genotype.from_list(g.to_list()) == g
    assert Genotype.from_text(g.to_text()) == g
    # whitespace and tuples are accepted, canonical text is compact
    spaced = text.replace(",", ", ")
    assert Genotype.from_text("  " + spaced + "\n").to_text() == text


def test_arch0_fields():
    assert ARCH0.op0 == 8
    assert ARCH0.layers == ((0, 0, 5, 2), (0, 2, 8, 8), (0, 5, 1, 4))
    assert ARCH0.connections == ((3, 3), (3, 2), (3, 0))


def test_numpy_integers_are_accepted():
    obj = [[np.int64(8), *[[np.int32(v) for v in l] for l in VALID[0][1:]]], VALID[1]]
    g = Genotype.from_list(obj)
    assert g == ARCH0 and g.to_text() == PUBLISHED["arch0"]


def test_decision_sizes():
    assert CellSpace().decision_sizes() == [11, 2, 2, 11, 11, 5, 5, 11, 11, 8, 8, 11, 11, 4, 4, 5, 5, 6, 6]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_decisions_round_trip(name):
    g = Genotype.from_text(PUBLISHED[name])
    space = CellSpace()
    d = space.to_decisions(g)
    assert len(d) == len(space.decision_sizes())
    assert all(0 <= v < n for v, n in zip(d, space.decision_sizes()))
    assert space.from_decisions(d) == g
    assert space.from_decisions(np.array(d)) == g


def test_decisions_round_trip_random():
    space, rng = CellSpace(), np.random.default_rng(7)
    for _ in range(300):
        g = space.sample(rng)
        assert space.from_decisions(space.to_decisions(g)) == g
        assert Genotype.from_list(g.to_list()) == g
        assert Genotype.from_text(g.to_text()) == g


def test_cell_output_nodes_and_decoder_outputs():
    assert ARCH0.cell_summation_nodes == [1, 4, 7, 10]
    assert ARCH0.cell_output_nodes == [1, 4, 7, 10]
    assert ARCH0.decoder_output_indices == [4, 5, 6]
    assert ARCH1.decoder_output_indices == [5, 6]
    # arch1 layer 1 picks node 1 -> node 1 is not collected
    assert ARCH1.cell_output_nodes == [4, 7, 10]
    assert ARCH2.cell_output_nodes == [1, 4, 7, 10]
    assert ARCH2.decoder_output_indices == [5, 6]


# =========================================================================== malformed genotypes
def _bad(obj):
    with pytest.raises(GenotypeError) as ei:
        Genotype.from_list(obj) if not isinstance(obj, str) else Genotype.from_text(obj)
    return str(ei.value)


def test_genotype_error_hierarchy():
    assert issubclass(GenotypeError, ValueError)
    assert issubclass(GenotypeError, NassegError)


def test_op0_out_of_range_named():
    msg = _bad([[11, *VALID[0][1:]], VALID[1]])
    assert "op0" in msg and "11" in msg
    msg = _bad([[-1, *VALID[0][1:]], VALID[1]])
    assert "op0" in msg


def test_position_out_of_range_named():
    layers = [list(l) for l in VALID[0][1:]]
    layers[1][1] = 5  # layer 1 may pick nodes 0..4
    msg = _bad([[8, *layers], VALID[1]])
    assert "layer 1" in msg and "p2" in msg and "5" in msg
    layers = [list(l) for l in VALID[0][1:]]
    layers[0][0] = 2  # layer 0 may pick nodes 0..1
    msg = _bad([[8, *layers], VALID[1]])
    assert "layer 0" in msg and "p1" in msg


@pytest.mark.parametrize("layer,slot,name", [(0, 2, "opA"), (2, 3, "opB")])
def test_layer_op_out_of_range_named(layer, slot, name):
    layers = [list(l) for l in VALID[0][1:]]
    layers[layer][slot] = 11
    msg = _bad([[8, *layers], VALID[1]])
    assert f"layer {layer}" in msg and name in msg


def test_connection_out_of_range_named():
    conns = [list(c) for c in VALID[1]]
    conns[0][1] = 5  # decoder cell 0 may pick 0..3
    msg = _bad([VALID[0], conns])
    assert "decoder cell 0" in msg and "b=5" in msg
    conns = [list(c) for c in VALID[1]]
    conns[2][0] = 6  # decoder cell 2 may pick 0..5
    msg = _bad([VALID[0], conns])
    assert "decoder cell 2" in msg and "a=6" in msg
    # the largest legal index is accepted
    conns[2][0] = 5
    assert Genotype.from_list([VALID[0], conns]).connections[2] == (5, 0)


@pytest.mark.parametrize("obj", [
    [VALID[0]],                                           # no connections
    [VALID[0], VALID[1], VALID[1]],                       # three parts
    [[[8], *VALID[0][1:]], VALID[1]],                     # op0 is a list
    [[8, 0, 0, 5, 2], VALID[1]],                          # layer not nested
    [VALID[0], [3, 3, 3, 2]],                             # connections not nested
    [[8, [0, 0, [5], 2], *VALID[0][2:]], VALID[1]],       # too deep
    [VALID[1], VALID[0]],                                 # swapped halves
    8,
    None,
    "arch0",
], ids=["one-part", "three-parts", "op0-list", "flat-layer", "flat-conns", "too-deep", "swapped", "int", "none",
        "string"])
def test_wrong_nesting_rejected(obj):
    with pytest.raises(GenotypeError):
        Genotype.from_list(obj)


@pytest.mark.parametrize("value", [1.0, 2.5, "1", True, False, None], ids=repr)
@pytest.mark.parametrize("where", ["op0", "layer", "conn"])
def test_non_integers_rejected(value, where):
    cell = [8, *[list(l) for l in VALID[0][1:]]]
    conns = [list(c) for c in VALID[1]]
    if where == "op0":
        cell[0] = value
    elif where == "layer":
        cell[2][0] = value
    else:
        conns[1][1] = value
    with pytest.raises(GenotypeError):
        Genotype.from_list([cell, conns])
    with pytest.raises(GenotypeError):
        Genotype.from_text(repr([cell, conns]))


@pytest.mark.parametrize("text", ["", "[[8,[0,0,5,2]]", "arch0", "[[8,[0,0,5,2]],[[0,1]]] extra",
                                  "__import__('os')", "[[8,[0,0,5,2]],[[0,1]]]]"])
def test_unparsable_text_rejected(text):
    with pytest.raises(GenotypeError) as ei:
        Genotype.from_text(text)
    assert "genotype" in str(ei.value)


def test_empty_cell_or_connections_rejected():
    with pytest.raises(GenotypeError, match="layer"):
        Genotype.from_list([[8], VALID[1]])
    with pytest.raises(GenotypeError, match="decoder cell"):
        Genotype.from_list([VALID[0], []])
    with pytest.raises(GenotypeError, match="layer 0"):
        Genotype.from_list([[8, [0, 0, 5]], VALID[1]])
    with pytest.raises(GenotypeError, match="decoder cell 1"):
        Genotype.from_list([VALID[0], [[0, 1], [0, 1, 2]]])


@pytest.mark.parametrize("n", [0, 18, 20])
def test_wrong_decision_count_rejected(n):
    with pytest.raises(GenotypeError, match="19"):
        CellSpace().from_decisions([0] * n)


def test_out_of_range_decision_rejected():
    d = CellSpace.to_decisions(ARCH0)
    d[13] = 4  # decoder cell 0, a
    with pytest.raises(GenotypeError, match="decoder cell 0"):
        CellSpace().from_decisions(d)


def test_unhashable_literal_text_rejected():
    with pytest.raises(GenotypeError):
        Genotype.from_text("{[1]: 2}")


def test_constructor_rejects_float_op0():
    with pytest.raises(GenotypeError):
        Genotype(2.5, ((0, 0, 1, 1),), ((0, 1),))


# =========================================================================== canonical hash
def swap_layer(g: Genotype, k: int) -> Genotype:
    """Swap (p1, opA) <-> (p2, opB) in layer k and the later references to its two branch nodes."""
    a_node, b_node = 2 + 3 * k, 3 + 3 * k
    ren = {a_node: b_node, b_node: a_node}
    layers = []
    for j, (p1, p2, oa, ob) in enumerate(g.layers):
        if j == k:
            layers.append((p2, p1, ob, oa))
        elif j > k:
            layers.append((ren.get(p1, p1), ren.get(p2, p2), oa, ob))
        else:
            layers.append((p1, p2, oa, ob))
    return Genotype(g.op0, tuple(layers), g.connections)


def swap_conn(g: Genotype, b: int) -> Genotype:
    conns = list(g.connections)
    conns[b] = conns[b][::-1]
    return Genotype(g.op0, g.layers, tuple(conns))


def test_swapping_branches_keeps_hash_published():
    for name, text in PUBLISHED.items():
        g = Genotype.from_text(text)
        for k in range(len(g.layers)):
            g2 = swap_layer(g, k)
            assert g2.hash() == g.hash(), (name, k, g2)
            assert g2.canonical() == g.canonical()
        for b in range(len(g.connections)):
            assert swap_conn(g, b).hash() == g.hash(), (name, b)


def test_swapping_branches_keeps_hash_random():
    space, rng = CellSpace(), np.random.default_rng(11)
    checked = 0
    for _ in range(300):
        g = space.sample(rng)
        for k in range(len(g.layers)):
            p1, p2, oa, ob = g.layers[k]
            g2 = swap_layer(g, k)
            assert g2.hash() == g.hash(), f"{g} vs {g2} (layer {k})"
            checked += 1
        b = int(rng.integers(len(g.connections)))
        assert swap_conn(g, b).hash() == g.hash(), f"{g} (decoder cell {b})"
        # several swaps compose
        g3 = swap_conn(swap_layer(swap_layer(g, 0), 2), 0)
        if all((l[0], l[2]) != (l[1], l[3]) for l in g.layers):
            assert g3.hash() == g.hash(), f"{g} vs {g3}"
        assert g.canonical().canonical() == g.canonical()
        assert g.canonical().hash() == g.hash()
    assert checked > 500


def test_hash_is_short_stable_hex():
    h = ARCH0.hash()
    assert len(h) == 16 and int(h, 16) >= 0
    assert Genotype.from_text(PUBLISHED["arch0"]).hash() == h
    assert len({ARCH0.hash(), ARCH1.hash(), ARCH2.hash()}) == 3


def test_hash_equal_iff_canonical_equal():
    space, rng = CellSpace(), np.random.default_rng(3)
    gs = [space.sample(rng) for _ in range(200)]
    # add symmetric duplicates so that equal pairs occur too
    gs += [swap_conn(g, 1) for g in gs[:20]]
    keyed = [(g, g.hash(), g.canonical()) for g in gs]
    for (g, hg, cg), (h, hh, ch) in itertools.combinations(keyed, 2):
        assert (hg == hh) == (cg == ch), (g, h)
    assert len({hg for _, hg, _ in keyed}) == len({cg for _, _, cg in keyed}) < len(gs)


def test_swapping_identical_branches_keeps_hash():
    g = Genotype.from_text("[[0,[0,0,2,2],[2,0,1,1],[0,0,1,1]],[[0,1],[2,3],[4,5]]]")
    g2 = swap_layer(g, 0)  # layer 0 unchanged, layer 1 now picks node 3 instead of node 2
    assert g2.layers[1][0] == 3
    assert g2.hash() == g.hash()


def _fake_taps(n=2, size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, c, size >> i, size >> i, generator=gen) for i, c in enumerate(TAP_CHANNELS)]


def _permute(state: dict, prefix_a: str, prefix_b: str) -> dict:
    out = {}
    for k, v in state.items():
        if k.startswith(prefix_a):
            k = prefix_b + k[len(prefix_a):]
        elif k.startswith(prefix_b):
            k = prefix_a + k[len(prefix_b):]
        out[k] = v
    return out


@pytest.mark.parametrize("g", [ARCH0, ARCH1, ARCH2, Genotype.from_text(
    "[[2,[1,0,3,7],[2,3,0,8],[5,2,4,1]],[[0,2],[4,1],[5,3]]]"), Genotype.from_text(
    "[[0,[0,0,2,2],[2,0,1,1],[0,0,1,1]],[[0,1],[2,3],[4,5]]]")],
    ids=["arch0", "arch1", "arch2", "refs-branches", "tied-branches"])
def test_swapped_genotype_is_functionally_equivalent(g):
    """Decoder(g') with g's weights (branch modules permuted) computes the same function."""
    torch.manual_seed(0)
    dec = Decoder(g, num_classes=3, width=8, repeats=1)
    with torch.no_grad():  # non-trivial BN statistics
        for m in dec.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()
    dec.eval()
    feats = _fake_taps()
    with torch.no_grad():
        ref = dec(feats)
    state = dec.state_dict()
    for k in range(len(g.layers)):
        g2 = swap_layer(g, k)
        assert g2.hash() == g.hash() or g.layers[k][0:3:2] == g.layers[k][1:4:2]
        d2 = Decoder(g2, num_classes=3, width=8, repeats=1).eval()
        s2 = state
        for i in range(len(g.connections)):
            for j in range(2):
                s2 = _permute(s2, f"cells.{i}.{j}.ops.{k}.0.", f"cells.{i}.{j}.ops.{k}.1.")
        d2.load_state_dict(s2, strict=True)
        with torch.no_grad():
            torch.testing.assert_close(d2(feats), ref, msg=f"layer {k} swap: {g} -> {g2}")
    for b in range(len(g.connections)):
        g2 = swap_conn(g, b)
        assert g2.hash() == g.hash()
        d2 = Decoder(g2, num_classes=3, width=8, repeats=1).eval()
        s2 = _permute(state, f"cells.{b}.0.", f"cells.{b}.1.")
        s2 = _permute(s2, f"merge.{b}.0.", f"merge.{b}.1.")
        d2.load_state_dict(s2, strict=True)
        with torch.no_grad():
            torch.testing.assert_close(d2(feats), ref, msg=f"decoder cell {b} swap: {g} -> {g2}")


# =========================================================================== sampling
def test_sample_is_deterministic_per_seed():
    space = CellSpace()
    a = [space.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    r1, r2 = np.random.default_rng(42), np.random.default_rng(42)
    s1 = [space.sample(r1) for _ in range(50)]
    s2 = [space.sample(r2) for _ in range(50)]
    assert s1 == s2
    assert len(set(s1)) > 45  # and not constant
    assert space.sample(np.random.default_rng(1)) != space.sample(np.random.default_rng(2))


def test_sample_covers_every_legal_value():
    space = CellSpace()
    sizes = space.decision_sizes()
    rng = np.random.default_rng(2024)
    seen = [set() for _ in sizes]
    for _ in range(2000):
        d = space.to_decisions(space.sample(rng))
        assert len(d) == len(sizes)
        for i, v in enumerate(d):
            assert isinstance(v, int)
            seen[i].add(v)
    for i, n in enumerate(sizes):
        assert seen[i] == set(range(n)), f"decision {i}: saw {sorted(seen[i])}, legal 0..{n - 1}"


# =========================================================================== random genotypes end to end
class FakeEncoder(nn.Module):
    """Four taps of the MobileNet-v2 shapes (strides 4..32, 24/32/96/320 channels), cheaply."""

    def __init__(self):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(3, c, 1) for c in TAP_CHANNELS)
        self.out_channels = TAP_CHANNELS

    def forward(self, x):
        return [p(F.avg_pool2d(x, 4 << i)) for i, p in enumerate(self.proj)]


def _expected_sizes(g: Genotype, size: int):
    """Resolution of every pool entry and of the logits for a square input at tap 0 size ``size``."""
    sizes = [size >> i for i in range(4)]
    for a, b in g.connections:
        sizes.append(max(sizes[a], sizes[b]))
    return sizes, max(sizes[i] for i in g.decoder_output_indices)


def _check_model(g: Genotype, model: nn.Module, x: torch.Tensor, num_classes: int, tap0: int, strip: bool = True):
    tag = f"genotype {g.to_text()}"
    sizes, out = _expected_sizes(g, tap0)
    model.train()
    logits, aux = model(x, return_aux=True)
    assert logits.shape == (x.shape[0], num_classes, out, out), tag
    assert len(aux) == 3, tag
    for b, a in enumerate(aux):
        assert a.shape == (x.shape[0], num_classes, sizes[4 + b], sizes[4 + b]), f"{tag} aux {b}"
    loss = logits.square().mean() + sum(a.square().mean() for a in aux)
    assert torch.isfinite(loss), tag
    loss.backward()
    dec = model.decoder
    used_taps = {v for c in g.connections for v in c if v < 4}
    assert dec.classifier.weight.grad is not None, tag
    for name, p in dec.named_parameters():
        parts = name.split(".")
        if parts[0] == "adapt" and int(parts[1]) not in used_taps:
            assert p.grad is None, f"{tag}: unused tap parameter {name} got a gradient"
        else:
            assert p.grad is not None, f"{tag}: decoder parameter {name} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{tag}: {name}"
    if not strip:
        return
    stripped = strip_aux(model)
    assert not any("aux_heads" in n for n, _ in stripped.named_parameters()), tag
    assert any("aux_heads" in n for n, _ in model.named_parameters()), tag  # original untouched
    total = n_params(model)
    assert count_params(model) == n_params(stripped) < total, tag
    assert count_params(model, inference=False) == total, tag
    model.eval()
    stripped.eval()
    with torch.no_grad():
        ref = model(x)
        torch.testing.assert_close(stripped(x), ref, rtol=0, atol=0, msg=tag)
        l2, a2 = stripped(x, return_aux=True)
        assert a2 == [] and torch.equal(l2, ref), tag


def test_200_random_genotypes_decoder():
    """Each random genotype builds and trains one step with 3 aux heads; every 4th one (deep copies are the
    slow part) also strips to a smaller model with the same eval-mode output."""
    torch.manual_seed(0)
    space, rng = CellSpace(), np.random.default_rng(12345)
    x = torch.randn(2, 3, 64, 64)
    for i in range(200):
        g = space.sample(rng)
        dec = Decoder(g, TAP_CHANNELS, num_classes=5, width=16, repeats=1, aux="cell")
        model = SegmentationModel(FakeEncoder(), dec, g.to_text())
        try:
            _check_model(g, model, x, 5, 16, strip=i % 4 == 0)
        except Exception as err:
            raise AssertionError(f"sample {i}: {g.to_text()}: {type(err).__name__}: {err}") from err


@pytest.mark.parametrize("seed", [0, 1])
def test_random_genotypes_full_model(seed):
    g = CellSpace().sample(np.random.default_rng(seed))
    torch.manual_seed(seed)
    model = build_model(g, num_classes=5, width=16, repeats=1, aux="cell")
    _check_model(g, model, torch.randn(2, 3, 64, 64), 5, 16)


def test_full_model_from_text_with_clf_aux():
    model = build_model(PUBLISHED["arch2"], num_classes=5, width=16, repeats=1, aux="clf")
    _check_model(ARCH2, model, torch.randn(2, 3, 64, 64), 5, 16)
    # the plain-classifier heads are single 3x3 convs
    for head in model.decoder.aux_heads:
        assert len(head) == 1 and isinstance(head[0], nn.Conv2d)


def test_aux_none_returns_no_aux_and_strip_is_noop():
    model = build_model("arch1", num_classes=5, width=16, repeats=1).eval()
    with torch.no_grad():
        logits, aux = model(torch.randn(1, 3, 64, 64), return_aux=True)
    assert aux == [] and logits.shape == (1, 5, 8, 8)
    assert count_params(model) == n_params(model)


@pytest.mark.parametrize("name,stride", [("arch0", 4), ("arch1", 8)])
def test_decoder_output_stride(name, stride):
    model = build_model(name, num_classes=5, width=16, repeats=1).eval()
    with torch.no_grad():
        y = model(torch.randn(1, 3, 64, 64))
    assert y.shape == (1, 5, 64 // stride, 64 // stride)


def test_decoder_rejects_bad_arguments():
    with pytest.raises(ValueError):
        Decoder(ARCH0, (24, 32, 96), width=8)
    with pytest.raises(ValueError):
        Decoder(ARCH0, width=8, aux="both")
