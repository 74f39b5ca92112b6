"""`dvc commit` for a change that alters no result, in a checkout without the DVC cache.

`dvc commit` needs every dep and out on disk, and a fresh clone has none of the cached ones.
This does what it does where it can: each stage's deps and params are re-hashed where present;
a dep that is another stage's missing output keeps that output's recorded hash (it is
unchanged); outputs keep their recorded hashes. Prove first that nothing changes
(tests/refactor_evidence.py, byte-identical prepare outputs), then run from the project root:
``.venv/bin/python tests/dvc_commit_refactor.py`` and check ``dvc status`` lists no modified
dep, param or command."""
from dvc.repo import Repo

r = Repo(".")
stages = list(r.index.stages)
produced = {}
for st in stages:
    for o in st.outs:
        produced[str(o.def_path)] = (o.hash_info, o.meta)
filled = []
for st in stages:
    st.save_deps(allow_missing=True)
    for d in st.deps:
        if not d.hash_info and str(d.def_path) in produced and not d.exists:
            d.hash_info, d.meta = produced[str(d.def_path)]
            filled.append(f"{st.addressing}:{d.def_path}")
    st.save_outs(allow_missing=True)
    st.md5 = st.compute_md5()
by_file = {}
for st in stages:
    by_file.setdefault(st.dvcfile, []).append(st)
for f, sts in by_file.items():
    f.dump_stages(sts, update_pipeline=False)
print("committed", len(stages), "stages; missing deps given their producer's recorded hash:", filled)
