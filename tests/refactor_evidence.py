"""Before/after evidence for issue 16: toy-trainer searches (both spaces, both strategies) through
run_strategy, their store identities (search.json sha1), zoo param counts and MAdds, params_sha1 of
every section. Run it on the tree before a change and after it, and compare the two JSON files: a change that
must not alter results leaves them identical.
Usage: python tests/refactor_evidence.py OUT.json  (from the root of the tree to measure; ~3 min)."""
import json, sys, tempfile, csv
from pathlib import Path
import torch
from nasseg.config import parse_params, params_sha1
from nasseg.search.run import run_strategy
from nasseg.search.toy import ToyTrainer

out = {}
with tempfile.TemporaryDirectory() as tmp:
    for space, aux in (("cells", "cell"), ("templates", "none")):
        for strategy in ("ppo", "random"):
            for hw in ("none", "madds"):
                key = f"{space}/{strategy}/{hw}"
                p = parse_params({"search": {"search_space": space, "aux": aux, "max_trials": 40, "batch_size": 4,
                                             "seed": 3, "out": f"{tmp}/{key}",
                                             "hardware": {"metric": hw, "target": 5e8, "weight": 0.07}}})
                run_strategy(p, "params.yaml", strategy, trainer=ToyTrainer(), log=lambda s: None)
                d = Path(tmp) / key / strategy
                rows = list(csv.DictReader(open(d / "trials.tsv"), delimiter="\t"))
                out[key] = {"rows": [{k: r[k] for k in ("id", "step", "slot", "status", "genotype", "reward",
                                                         "stage1_reward", "stage2_reward", "objective", "ran_stage2")}
                                     for r in rows],
                            "identity": json.loads((d / "search.json").read_text())["sha1"],
                            "state_keys": sorted(torch.load(d / "state.pt", map_location="cpu", weights_only=True).keys())
                            if (d / "state.pt").exists() else None}
from nasseg.models import list_archs, build_model, count_params
from nasseg.benchmark import count_madds
archs = {}
for name in list_archs():
    nc = 19 if name.startswith("wacv") else 21
    m = build_model(name, num_classes=nc).eval()
    archs[name] = {"params": count_params(m), "madds_512": count_madds(m, 512)[0]}
out["archs"] = archs
p = parse_params({})
import yaml
pf = parse_params(yaml.safe_load(open("params.yaml")))
out["params_sha1_defaults"] = {s: params_sha1(p, s) for s in type(p).model_fields}
out["params_sha1_file"] = {s: params_sha1(pf, s) for s in type(pf).model_fields}
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
print("wrote", sys.argv[1], {k: len(v["rows"]) for k, v in out.items() if isinstance(v, dict) and "rows" in v})
