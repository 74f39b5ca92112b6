"""Every registered search space through the protocol (nasseg.spaces): sampling, the four forms
of a genotype (decisions, object, text, nested list), the registry telling spaces apart, a
decoder that runs forward and backward at the stride the words say, words and a diagram.
Space-specific checks live in test_space.py (cells) and test_templates.py (templates)."""
import ast

import numpy as np
import pytest
import torch

from nasseg.errors import ConfigError, GenotypeError
from nasseg.models import build_model, count_params
from nasseg.models.encoder import TAP_CHANNELS, TAPS, MobileNetV2Encoder
from nasseg.models.zoo import PUBLISHED, PUBLISHED_TEMPLATES
from nasseg.spaces import SPACE_NAMES, get_space, parse_genotype, register, space_of

SPACES = [get_space(n) for n in SPACE_NAMES]
SIZE = 128  # input pixels: every stride up to 64 (3 downsampling template layers after stride 8) divides it


def samples(space, n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def test_registry_holds_both_systems():
    assert SPACE_NAMES == ("cells", "templates")
    assert [s.name for s in SPACES] == list(SPACE_NAMES)
    with pytest.raises(ConfigError, match="cells, templates"):
        get_space("darts")
    with pytest.raises(ValueError, match="already registered"):
        register(SPACES[0])


@pytest.mark.parametrize("space", SPACES, ids=SPACE_NAMES)
def test_taps_are_a_prefix_of_the_encoders(space):
    n = len(space.encoder_taps)
    assert space.encoder_taps == TAPS[:n] and space.in_channels == TAP_CHANNELS[:n]
    assert space.cache_taps == tuple(range(n))
    assert MobileNetV2Encoder(taps=space.encoder_taps).out_channels == space.in_channels


@pytest.mark.parametrize("space", SPACES, ids=SPACE_NAMES)
def test_four_forms_round_trip(space):
    for g in samples(space, 50):
        d = space.to_decisions(g)
        assert len(d) == len(space.decision_sizes()) and all(0 <= v < n for v, n in zip(d, space.decision_sizes()))
        assert space.from_decisions(d) == g
        text, nested = g.to_text(), g.to_list()
        assert str(g) == text and ast.literal_eval(text) == nested
        tupled = tuple(tuple(tuple(x) if isinstance(x, list) else x for x in part) for part in nested)
        for form in (g, text, nested, tupled):
            assert space.parse(form) == g
            assert space_of(form) is space and parse_genotype(form) == g
        assert parse_genotype(g).hash() == g.hash() == g.canonical().hash()


@pytest.mark.parametrize("space", SPACES, ids=SPACE_NAMES)
def test_decoder_runs_at_the_stride_its_words_say(space):
    taps = [torch.randn(2, c, SIZE // s, SIZE // s) for c, s in zip(space.in_channels, (4, 8, 16, 32))]
    strides = set()
    for i, g in enumerate(samples(space, 8, seed=1)):
        aux = space.aux_kinds[i % len(space.aux_kinds)]
        dec = space.build_decoder(g, num_classes=3, width=8, repeats=1, aux=aux)
        logits, aux_out = dec([t.clone().requires_grad_() for t in taps], return_aux=True)
        stride = space.output_stride(g)
        strides.add(stride)
        assert logits.shape == (2, 3, SIZE // stride, SIZE // stride), (g.to_text(), stride)
        assert bool(aux_out) == (aux != "none")
        (logits.square().mean() + sum(a.square().mean() for a in aux_out)).backward()
        grads = [p.grad for p in dec.parameters() if p.grad is not None]  # (a cells tap no cell reads has none)
        assert len(grads) > len(list(dec.parameters())) // 2 and all(torch.isfinite(x).all() for x in grads)
        assert f"at stride {stride}" in space.describe(g)[-1]
    assert len(strides) > 1  # the rule is exercised, not one constant


@pytest.mark.parametrize("space", SPACES, ids=SPACE_NAMES)
def test_describe_and_draw(space, tmp_path):
    g = samples(space, 1, seed=2)[0]
    lines = space.describe(g.to_text())
    assert lines and all(isinstance(l, str) and l for l in lines)
    assert space.describe(g.to_list()) == lines
    paths = space.draw(g, tmp_path / "sub" / space.name, "a title")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 1000 for p in paths)


@pytest.mark.parametrize("name, text", [*PUBLISHED.items(), *PUBLISHED_TEMPLATES.items()])
def test_build_model_takes_a_name_object_text_or_nested_list(name, text):
    g = parse_genotype(text)
    want = count_params(build_model(name, num_classes=19))
    for form in (g, text, ast.literal_eval(text)):
        assert count_params(build_model(form, num_classes=19)) == want


def test_a_genotype_of_no_space_names_both_forms():
    bad = "[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,9]]]"
    for form in (bad, ast.literal_eval(bad)):
        with pytest.raises(GenotypeError) as err:
            space_of(form)
        msg = str(err.value)
        assert "decoder cell 2: input b=9 is out of range" in msg
        assert "[[op0,[p1,p2,opA,opB],...],[[a,b],...]]" in msg
        assert "[[[op1,op2,agg],...],[[p1,p2,template,repeats-1,stride],...]]" in msg
    for junk in ("[1, 2", 7, None, [[1]]):
        with pytest.raises(GenotypeError, match="fits no search space"):
            parse_genotype(junk)
    with pytest.raises(GenotypeError, match="fits no search space"):
        build_model([[8, [0, 0, 5, 2]], [[0, 9]]])


def test_genotypes_of_both_spaces_need_no_torch():
    """What a toy search's Ray worker loads (the executor, the toy trainer, both spaces) parses,
    samples and describes genotypes without importing torch (~1.3 s a worker)."""
    from conftest import fresh_python

    code = ("import sys, numpy as np\n"
            "import nasseg.search.executor, nasseg.search.toy\n"
            "from nasseg.spaces import get_space, space_of\n"
            "for name in ('cells', 'templates'):\n"
            "    s = get_space(name); g = s.sample(np.random.default_rng(0))\n"
            "    assert space_of(g.to_text()) is s and s.words(g) and s.aux_kinds\n"
            "print('torch' in sys.modules)")
    assert fresh_python(code) == "False"
