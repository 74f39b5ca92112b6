"""The WACV 2020 template space: genotypes, decisions, decoder, the published architectures,
and the search-space interface shared with the cells space."""
import numpy as np
import pytest
import torch

from nasseg.models import build_model, count_params
from nasseg.models.encoder import MobileNetV2Encoder
from nasseg.models.zoo import PUBLISHED, PUBLISHED_PARAMS, PUBLISHED_TEMPLATES
from nasseg.errors import GenotypeError
from nasseg.spaces.cells import Genotype
from nasseg.spaces import CELLS, TEMPLATES, get_space, parse_genotype, space_of
from nasseg.spaces.templates import TemplateDecoder, TemplateGenotype, TemplateSpace
from nasseg.spaces.templates.genotype import stride_layers

A0 = PUBLISHED_TEMPLATES["wacv_arch0"]
A1 = PUBLISHED_TEMPLATES["wacv_arch1"]


def test_published_parameter_counts_match_the_torchvision_pair_exactly():
    # the issue's figures: 279,059 / 267,147 with torchvision's blocks (the authors' 280,147 / 268,235
    # include a 1x1 expansion conv of 32*32 + 2*32 = 1,088 parameters in the t=1 block)
    assert count_params(build_model("wacv_arch0", num_classes=19, width=64, repeats=2)) == 279_059
    assert count_params(build_model("wacv_arch1", num_classes=19, width=64, repeats=2)) == 267_147
    assert PUBLISHED_PARAMS == {"wacv_arch0": 279_059, "wacv_arch1": 267_147}
    assert 279_059 + 32 * 32 + 2 * 32 == 280_147 and 267_147 + 1_088 == 268_235
    # the encoder is MobileNet-v2 up to the stride-8 tap only
    enc = build_model("wacv_arch0", num_classes=19).encoder
    assert enc.out_channels == (24, 32) and len(enc.features) == 7
    # the genotype text builds the same model as the zoo name
    assert count_params(build_model(A1, num_classes=19)) == 267_147


def test_published_models_run_at_odd_sizes():
    for name in ("wacv_arch0", "wacv_arch1"):
        m = build_model(name, num_classes=19).eval()
        with torch.no_grad():
            y = m(torch.randn(1, 3, 90, 122))
        assert y.shape[:2] == (1, 19) and torch.isfinite(y).all()


def test_two_hundred_random_template_genotypes_forward_and_backward():
    rng = np.random.default_rng(0)
    space = TemplateSpace()
    taps = [torch.randn(2, 24, 8, 10), torch.randn(2, 32, 4, 5)]
    seen_ops, seen_aggs, seen_strides = set(), set(), set()
    for i in range(200):
        g = space.sample(rng)
        seen_ops |= {o for t in g.templates for o in t[:2]}
        seen_aggs |= {t[2] for t in g.templates}
        seen_strides |= {l[4] for l in g.layers}
        dec = TemplateDecoder(g, num_classes=5, width=8, repeats=2, aux="clf" if i % 2 else "none")
        logits, aux = dec([t.clone().requires_grad_() for t in taps], return_aux=True)
        assert logits.shape[:2] == (2, 5) and logits.shape[2] >= 1 and torch.isfinite(logits).all(), g
        assert len(aux) == (7 if i % 2 else 0)
        loss = logits.square().mean() + sum(a.square().mean() for a in aux)
        loss.backward()
        missing = [n for n, p in dec.named_parameters() if p.grad is None]
        assert not missing, (g.to_text(), missing[:3])
    assert seen_ops == set(range(6)) and seen_aggs == {0, 1} and seen_strides == {0, 1}


def test_decisions_round_trip_and_layout():
    space = TemplateSpace()
    sizes = space.decision_sizes()
    # 3 templates x (op1, op2, agg); 7 layers x (p1, p2, template, repeats) + a stride for the first 3
    assert len(sizes) == 9 + 7 * 4 + 3 == 40
    assert sizes[:3] == [6, 6, 2] and sizes[9:14] == [2, 2, 3, 4, 2]
    assert stride_layers(7) == 3
    for text in (A0, A1):
        g = TemplateGenotype.from_text(text)
        assert g.to_text() == text
        d = space.to_decisions(g)
        assert all(0 <= v < n for v, n in zip(d, sizes))
        assert space.from_decisions(d) == g
    assert TemplateGenotype.from_text(A0).output_indices == [4, 6, 7, 8]  # layer outputs no later layer reads


@pytest.mark.parametrize("text,needle", [
    ("[[[6,0,1],[4,1,1],[3,1,1]],[[0,1,0,0,1]]]", "op1=6 is out of range"),
    ("[[[3,0,2]],[[0,1,0,0,1]]]", "agg=2 is out of range"),
    ("[[[3,0,1]],[[0,2,0,0,1]]]", "position p2=2 is out of range"),
    ("[[[3,0,1]],[[0,1,1,0,0]]]", "template=1 is out of range"),
    ("[[[3,0,1]],[[0,1,0,4,0]]]", "repeats field 4"),
    ("[[[3,0,1]],[[0,1,0,0,1],[0,1,0,0,1]]]", "only the first 1 layers may downsample"),
    ("[[[3,0,1]],[[0,1,0,0]]]", "expected [p1, p2, template, repeats-1, stride]"),
    ("[[[3,0,1.0]],[[0,1,0,0,0]]]", "integers"),
    ("[[[3,0,true]],[[0,1,0,0,0]]]", "cannot parse"),
    ("not a genotype", "cannot parse"),
])
def test_malformed_template_genotypes_name_the_problem(text, needle):
    with pytest.raises(GenotypeError, match=None) as err:
        TemplateGenotype.from_text(text)
    assert needle in str(err.value)


def test_interface_tells_the_spaces_apart():
    assert space_of(A0) is TEMPLATES and space_of(PUBLISHED["arch0"]) is CELLS
    assert isinstance(parse_genotype(A0), TemplateGenotype) and isinstance(parse_genotype(PUBLISHED["arch1"]), Genotype)
    assert get_space("templates").encoder_taps == (3, 6) and get_space("cells").encoder_taps == (3, 6, 13, 17)
    assert TEMPLATES.cache_taps == (0, 1) and TEMPLATES.in_channels == (24, 32)
    with pytest.raises(Exception, match="unknown search space"):
        get_space("darts")
    with pytest.raises(GenotypeError):
        space_of("[1, 2")
    with pytest.raises(Exception, match="aux heads 'cell'"):
        TEMPLATES.build_decoder(A0, num_classes=3, width=8, repeats=1, aux="cell")
    # a template decoder built through the interface reads the first two of four cached taps
    dec = TEMPLATES.build_decoder(A0, num_classes=3, width=8, repeats=1)
    four = [torch.randn(1, c, s, s) for c, s in zip((24, 32, 96, 320), (16, 8, 4, 2))]
    assert dec(four).shape == (1, 3, 16, 16)
    # ids: unused templates do not change the network, so they do not change the id
    g = TemplateGenotype.from_text(A0)
    h = TemplateGenotype(g.templates[:2] + ((0, 0, 0),), g.layers)
    assert 2 in {l[2] for l in g.layers} and g.hash() != h.hash()
    unused = TemplateGenotype(((0, 0, 0), (1, 1, 1)), ((0, 1, 0, 0, 0),))
    assert unused.hash() == TemplateGenotype(((0, 0, 0), (5, 5, 0)), ((0, 1, 0, 0, 0),)).hash()


def test_both_spaces_run_through_the_same_search_loop(tmp_path):
    from nasseg.search.loop import Budget, run_search
    from nasseg.search.store import TrialStore
    from nasseg.search.strategy import make_strategy
    from nasseg.search.toy import ToyTrainer

    for space in (CELLS, TEMPLATES):
        for strategy in ("ppo", "random"):
            store = TrialStore(tmp_path / f"{space.name}-{strategy}.db")
            run_search(make_strategy(strategy, seed=0, space=space), ToyTrainer(), store,
                       tmp_path / f"{space.name}-{strategy}.pt", budget=Budget(max_trials=6), batch_size=2, seed=0,
                       log=lambda s: None)
            rows = store.rows(strategy)
            store.close()
            assert len(rows) == 6 and all(r["status"] == "done" for r in rows)
            assert all(space_of(r["genotype"]) is space for r in rows)
            assert all(r["hash"] == parse_genotype(r["genotype"]).hash() for r in rows)


def test_search_params_reject_aux_cells_for_templates():
    from nasseg.config import ConfigError, parse_params

    with pytest.raises(ConfigError, match="aux 'cell' exists only in the cells space"):
        parse_params({"search": {"search_space": "templates", "aux": "cell"}})
    with pytest.raises(ConfigError, match="search_space"):
        parse_params({"search": {"search_space": "darts"}})
    p = parse_params({})
    w = p.for_system("wacv")
    assert w.search.search_space == "templates" and w.data.num_classes == 11 and not w.precompute.teacher
    assert p.for_system("wacv", "cityscapes").data.num_classes == 19
    with pytest.raises(ConfigError, match="unknown system"):
        p.for_system("darts")


def test_truncated_encoder_loads_full_encoder_weights(tmp_path):
    from nasseg.models.encoder import load_encoder_weights

    full = MobileNetV2Encoder()
    torch.save({"encoder": full.state_dict()}, tmp_path / "encoder.pt")
    m = build_model("wacv_arch0", num_classes=19, encoder_weights=str(tmp_path / "encoder.pt"))
    for k, v in m.encoder.state_dict().items():
        assert torch.equal(v, full.state_dict()[k])
    short = MobileNetV2Encoder(taps=(3, 6))
    load_encoder_weights(short, tmp_path / "encoder.pt")
