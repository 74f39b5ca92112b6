"""`search.cell_positions: authors`: the authors' refactored controller's space, where cell
layers 1-3 offer 1/4/7 input positions (never the newest node) instead of nasseg's 2/5/8; the
search states and fingerprints know which space made them."""
import json

import numpy as np
import pytest
import torch

from nasseg.config import SearchParams, identity_dump, parse_params
from nasseg.errors import ConfigError, GenotypeError
from nasseg.search.controller import Controller
from nasseg.search.strategy import PPOStrategy, RandomStrategy
from nasseg.search.toy import ToyTrainer
from nasseg.spaces import CELLS, get_space
from nasseg.spaces.cells import Genotype
from nasseg.spaces.cells.genotype import CellSpace, layer_positions
from nasseg.spaces.cells.space import CELLS_AUTHORS

ARCH0 = "[[8,[0,0,5,2],[0,2,8,8],[0,5,1,4]],[[3,3],[3,2],[3,0]]]"
ARCH1 = "[[2,[1,0,3,6],[0,1,2,8],[2,0,6,1]],[[2,3],[3,1],[4,4]]]"
ARCH2 = "[[5,[0,0,4,1],[3,2,0,1],[5,6,5,0]],[[1,3],[4,3],[2,2]]]"


def positions_taken(genotypes) -> list[set]:
    """Per cell layer, the set of input positions the genotypes take."""
    out = [set(), set(), set()]
    for g in genotypes:
        for k, layer in enumerate(g.layers):
            out[k] |= set(layer[:2])
    return out


def test_position_counts_are_2_5_8_by_default_and_1_4_7_for_the_authors():
    assert [layer_positions(k) for k in range(3)] == [2, 5, 8]
    assert [layer_positions(k, "authors") for k in range(3)] == [1, 4, 7]
    sizes, theirs = CELLS.decision_sizes(), CELLS_AUTHORS.decision_sizes()
    assert [sizes[1 + 4 * k] for k in range(3)] == [2, 5, 8]
    assert [theirs[1 + 4 * k] for k in range(3)] == [1, 4, 7]
    assert sizes[0] == theirs[0] == 11 and sizes[13:] == theirs[13:] == [4, 4, 5, 5, 6, 6]  # ops and connections alike
    with pytest.raises(GenotypeError, match="cell_positions"):
        CellSpace(positions="theirs")


def test_the_authors_controller_never_proposes_a_layers_last_position_the_default_does():
    n = 3000
    torch.manual_seed(0)
    ours = Controller(CELLS).sample(n, torch.Generator().manual_seed(1))
    torch.manual_seed(0)
    theirs = Controller(CELLS_AUTHORS).sample(n, torch.Generator().manual_seed(1))
    last = [layer_positions(k) - 1 for k in range(3)]  # nodes 1, 4, 7: the newest node of each layer
    taken_ours, taken_theirs = positions_taken(s.genotype for s in ours), positions_taken(s.genotype for s in theirs)
    for k in range(3):
        assert last[k] in taken_ours[k], f"layer {k}: the default controller never proposed node {last[k]}"
        assert taken_ours[k] == set(range(layer_positions(k)))
        assert taken_theirs[k] == set(range(layer_positions(k, "authors"))), f"layer {k}: {sorted(taken_theirs[k])}"
    # the genotypes are those of the decisions, in the same node numbering
    assert all(s.genotype == CELLS.from_decisions(s.decisions) for s in theirs[:50])


def test_random_search_in_the_authors_space_keeps_to_it():
    props = RandomStrategy(CELLS_AUTHORS, seed=3).propose(2000)
    taken = positions_taken(p.genotype for p in props)
    assert taken == [{0}, {0, 1, 2, 3}, set(range(7))]
    assert max(p.genotype.layers[0][0] for p in RandomStrategy(CELLS, seed=3).propose(200)) == 1


def test_the_authors_space_cannot_express_the_published_arch1():
    """The evidence the default keeps 2/5/8: arch1's layer 0 takes node 1 = op0(x)."""
    for text in (ARCH0, ARCH2):
        g = Genotype.from_text(text)
        CELLS_AUTHORS.layout.check(g)
        assert CELLS_AUTHORS.from_decisions(CELLS_AUTHORS.to_decisions(g)) == g
    with pytest.raises(GenotypeError, match="cell layer 0: position p1=1 is outside the 'authors' cell positions"):
        CELLS_AUTHORS.layout.check(Genotype.from_text(ARCH1))
    with pytest.raises(GenotypeError, match="authors"):
        CELLS_AUTHORS.from_decisions(CELLS.to_decisions(Genotype.from_text(ARCH1)))
    CELLS.layout.check(Genotype.from_text(ARCH1))


def test_the_param_picks_the_space_and_enters_the_identity_only_when_set():
    assert SearchParams().cell_positions == "nasseg"
    assert "cell_positions" not in identity_dump(SearchParams())  # identities made before the key stay valid
    assert identity_dump(SearchParams(cell_positions="authors"))["cell_positions"] == "authors"
    assert get_space("cells").with_positions("authors") is CELLS_AUTHORS
    assert CELLS_AUTHORS.key == "cells/authors" and CELLS.key == "cells"
    with pytest.raises(ConfigError, match="search.cell_positions"):
        parse_params({"search": {"cell_positions": "theirs"}})
    with pytest.raises(ConfigError, match="cell_positions applies to the cells space only"):
        parse_params({"search": {"search_space": "templates", "aux": "none", "cell_positions": "authors"}})


@pytest.mark.parametrize("make", [lambda space: PPOStrategy(space, seed=0), lambda space: RandomStrategy(space, 0)],
                         ids=["ppo", "random"])
def test_a_search_state_resumes_only_in_the_space_that_saved_it(make):
    state = make(CELLS_AUTHORS).state_dict()
    assert state["space"] == "cells/authors"
    with pytest.raises(ConfigError, match="made in the 'cells/authors' search space.*'cells'.*search.cell_positions"):
        make(CELLS).load_state_dict(state)
    make(CELLS_AUTHORS).load_state_dict(state)
    old = make(CELLS).state_dict()
    old.pop("space")  # a state saved before the space was recorded: the default cells space
    make(CELLS).load_state_dict(old)
    with pytest.raises(ConfigError, match="'cells'.*'cells/authors'"):
        make(CELLS_AUTHORS).load_state_dict(old)


def test_scoring_decisions_of_the_other_space_is_a_clear_error():
    ours = Controller(CELLS).sample(1, torch.Generator().manual_seed(0))[0].decisions
    ours[1] = 1  # layer 0 takes node 1: not offered by the authors' controller
    with pytest.raises(GenotypeError, match="decision 1 = 1 of 1 choices.*cell_positions"):
        Controller(CELLS_AUTHORS).log_prob([ours])


def _search(tmp_path, positions, max_trials=24, log=None):
    from nasseg.search.run import run_strategy

    p = parse_params({"search": {"cell_positions": positions, "max_trials": max_trials, "batch_size": 4,
                                 "out": str(tmp_path / "s")}})
    run_strategy(p, "params.yaml", "ppo", trainer=ToyTrainer(), log=log or (lambda s: None))
    from nasseg.search.store import TrialStore

    store = TrialStore(tmp_path / "s/ppo/trials.db")
    try:
        return [Genotype.from_text(r["genotype"]) for r in store.rows("ppo")]
    finally:
        store.close()


def test_a_search_with_the_authors_positions_records_them_and_a_changed_setting_is_caught(tmp_path):
    genotypes = _search(tmp_path, "authors")
    assert len(genotypes) == 24
    assert all(g.layers[0][:2] == (0, 0) for g in genotypes)
    assert all(max(l[:2]) < layer_positions(k, "authors") for g in genotypes for k, l in enumerate(g.layers))
    tag = json.loads((tmp_path / "s/ppo/search.json").read_text())
    assert tag["params"]["cell_positions"] == "authors"  # the store's fingerprint names the space
    state = torch.load(tmp_path / "s/ppo/state.pt", weights_only=True)
    assert state["strategy"]["space"] == "cells/authors"

    # the stage continues only the same search: another setting moves the old store aside, saying why
    said = []
    _search(tmp_path, "nasseg", max_trials=4, log=said.append)
    assert any("cell_positions" in s and "moved to" in s for s in said), said
    # a state without its fingerprint (search.json lost) is refused, naming the setting
    _search(tmp_path, "authors", max_trials=4)
    (tmp_path / "s/ppo/search.json").unlink()
    with pytest.raises(ConfigError, match="search.cell_positions"):
        _search(tmp_path, "nasseg", max_trials=8)


def test_layer_positions_rejects_unknown_names():
    with pytest.raises(GenotypeError):
        layer_positions(0, "both")
    assert np.all(np.diff([layer_positions(k, "authors") for k in range(5)]) == 3)
