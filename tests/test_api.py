"""The top-level API: nasseg.build_model / nasseg.list_archs, lazily imported."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest

import nasseg


def test_list_archs_at_the_top():
    names = nasseg.list_archs()
    assert {"arch0", "arch1", "arch2", "wacv_arch0", "wacv_arch1", "refinenet_lw_mbv2"} <= set(names)


@pytest.mark.parametrize("name", ["arch1", "wacv_arch0"])
def test_build_model_takes_a_name_a_genotype_its_text_or_its_nested_list(name):
    from nasseg.models.zoo import PUBLISHED, PUBLISHED_TEMPLATES

    text = {**PUBLISHED, **PUBLISHED_TEMPLATES}[name]
    genotype = nasseg.parse_genotype(text)
    nested = ast.literal_eval(text)
    counts = {nasseg.count_params(nasseg.build_model(arch, num_classes=19))
              for arch in (name, genotype, text, nested, tuple(nested))}
    assert len(counts) == 1, counts


def test_build_model_names_the_problem_with_a_bad_genotype():
    from nasseg.errors import NassegError

    with pytest.raises(NassegError, match="genotype"):
        nasseg.build_model([[99, [0, 0, 0, 0]], [[0, 0]]], num_classes=3)
    with pytest.raises(NassegError, match="arch9|unknown"):
        nasseg.build_model("arch9", num_classes=3)


def test_importing_nasseg_imports_nothing_heavy():
    code = "import sys, nasseg; print(sorted(m for m in sys.modules if m.startswith(('nasseg.', 'torch'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
