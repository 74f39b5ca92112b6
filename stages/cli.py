"""The ``nasseg`` command: one sub-command per DVC stage (see dvc.yaml), plus the everyday tools.

A lazy dispatcher: ``nasseg <command> ...`` imports only that command's module (a stage's
code is then exactly what its module imports, which is what dvc.yaml lists as its deps), and
``nasseg --help`` lists every command from the table below without importing any. Each module
is a page of option parsing that reads its section of params.yaml and calls the library; it
exposes a ``typer.Typer`` (a group, such as ``arch``) or a function (one command). Errors the
user can fix (:class:`nasseg.errors.NassegError`) are one red line and exit code 2.
"""
from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nasseg.errors import NassegError
from nasseg.outputs import file_error
from nasseg.progress import console

ABOUT = ("Fast NAS of compact semantic segmentation models via auxiliary cells (CVPR 2019), as a DVC pipeline. "
         "Every stage reads its section of params.yaml; `dvc repro` runs them all in order, and each stage also "
         "runs alone as `nasseg <stage>`.")

STAGES = "Pipeline stages (dvc.yaml)"
TOOLS = "Tools"

# command -> (group, "module:attribute", one line of help). The attribute is a typer.Typer or a function.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "prepare-scan": (STAGES, "stages.prepare_scan:main", "the manifest of the real dataset files (reruns prepare on a change)"),
    "prepare": (STAGES, "stages.prepare:main", "VOC/SBD/COCO-format sets on disk, masks decoded once, the index"),
    "prepare-transfer": (STAGES, "stages.prepare_transfer:main", "COCO keypoints, MPII and NYUv2 for the transfer stage"),
    "prepare-street": (STAGES, "stages.prepare_street:main", "CamVid and Cityscapes for the WACV system"),
    "pretrain": (STAGES, "stages.pretrain:main", "the MobileNet-v2 encoder, trained for segmentation or imported"),
    "teacher": (STAGES, "stages.teacher:main", "the distillation teacher (RefineNet on ResNet), trained or imported"),
    "precompute": (STAGES, "stages.precompute:main", "the HDF5 feature cache stage 1 of the search trains from"),
    "benchmark": (STAGES, "stages.benchmark:main", "parameters, MAdds, output size and latency (Table 1 columns)"),
    "search": (STAGES, "stages.search:main", "the architecture search: PPO controller or random search"),
    "search-report": (STAGES, "stages.search_report:main", "Fig. 2: reward distributions, RL vs random search"),
    "tricks": (STAGES, "stages.tricks:main", "Fig. 3: Polyak averaging, aux cells and distillation, one at a time"),
    "ablate": (STAGES, "stages.ablate:main", "Fig. 4: the best architectures without aux, with a classifier, a cell"),
    "correlate": (STAGES, "stages.correlate:main", "Fig. 5: search reward vs mIoU after longer training"),
    "train": (STAGES, "stages.train:main", "Table 1: full training of the found architectures"),
    "train-wacv": (STAGES, "stages.train_wacv:main", "WACV 2020: template architectures on CamVid and Cityscapes"),
    "transfer": (STAGES, "stages.transfer:main", "Tables 2, 3: the found architectures on pose and depth"),
    "report": (STAGES, "stages.report:main", "every stage's results on one page (HTML and Markdown)"),
    "trials": (TOOLS, "stages.tools.trials:main", "browse a search's trial store"),
    "arch": (TOOLS, "stages.tools.arch:app", "an architecture in words and figures (arch show | arch list)"),
    "draw": (TOOLS, "stages.tools.draw:main", "a genotype of either search space as a diagram (Fig. 6 for cells)"),
    "evaluate": (TOOLS, "stages.tools.evaluate:main", "score a checkpoint on a split, per-class IoU"),
    "predict": (TOOLS, "stages.tools.predict:main", "masks, depth maps or skeletons for one's own images"),
    "export": (TOOLS, "stages.tools.export:main", "ONNX and TorchScript files, checked against eager PyTorch"),
    "import-weights": (TOOLS, "stages.tools.import_weights:main", "a weights file made elsewhere (torchvision, the "
                       "authors' RefineNet) as a nasseg checkpoint"),
    "gpu-check": (TOOLS, "stages.tools.gpu_check:main", "every computing stage for a few steps on the GPU (fp16, bf16)"),
    "bench-cache": (TOOLS, "stages.tools.bench_cache:main", "what the feature cache buys, measured side by side"),
    "bench-search": (TOOLS, "stages.tools.bench_search:main", "trials/hour of the search's executors, memory per worker"),
    "bench-input": (TOOLS, "stages.tools.bench_input:main", "images/s of the training input pipeline alone, 0/1/2 workers"),
    "bench-proxy": (TOOLS, "stages.tools.bench_proxy:main", "how small the search's proxy can be and still rank "
                    "architectures (seeds, settings vs a longer training)"),
    "bench-procs": (TOOLS, "stages.tools.bench_procs:main", "what runtime.procs buys: the same jobs in turn vs side by "
                    "side in processes"),
    "bench-prepare": (TOOLS, "stages.tools.bench_prepare:main", "prepare on a 10k real-format set; loader img/s before vs after"),
    "plan": (TOOLS, "stages.tools.plan:main", "cost a run before starting it: work, time, disk, memory per stage"),
    "profile": (TOOLS, "stages.tools.profile:app", "named params for a whole run (paper, wacv, tiny): profile list | diff | use"),
}


# Older spellings -> the command that now serves them: (command, option) -> {value: command}.
# The redirect lives here so that no stage's code imports another stage's library.
REDIRECTS = {
    ("train", "--system"): {"cells": "train", "wacv": "train-wacv"},
    ("prepare", "--only"): {"segmentation": "prepare", "transfer": "prepare-transfer", "street": "prepare-street"},
}


def redirect(args: list[str]) -> list[str]:
    """``nasseg train --system wacv ...`` is ``nasseg train-wacv ...``; ``nasseg prepare --only
    transfer ...`` is ``nasseg prepare-transfer ...`` (and so on, see REDIRECTS)."""
    option = next((o for (c, o) in REDIRECTS if c == args[:1][0]), None) if args else None
    if option is None:
        return args
    targets = REDIRECTS[(args[0], option)]
    rest, value = [], None
    it = iter(args[1:])
    for a in it:
        if a == option:
            value = next(it, "")
        elif a.startswith(option + "="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
    if value is None:
        return args
    if value not in targets:
        raise NassegError(f"{option} must be one of {', '.join(targets)}, not {value!r}")
    return [targets[value], *rest]


def load(name: str) -> typer.Typer:
    """The typer app of command ``name``, importing its module (and nothing else of stages/)."""
    _, target, _ = COMMANDS[name]
    module, attr = target.split(":")
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, typer.Typer):
        return obj
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name)(obj)
    return app


def print_help() -> None:
    out = Console()  # help goes to stdout, as typer's own
    out.print("Usage: nasseg <command> \\[options]   (nasseg <command> --help for its options)\n", highlight=False)
    out.print(ABOUT + "\n", highlight=False)
    for group in (STAGES, TOOLS):
        grid = Table(title=group, title_justify="left", title_style="bold", box=None, show_header=False,
                     pad_edge=False, padding=(0, 2, 0, 2))
        grid.add_column(min_width=max(map(len, COMMANDS)))
        grid.add_column()
        for name, (g, _, text) in COMMANDS.items():
            if g == group:
                grid.add_row(f"[cyan]{name}[/]", text)
        out.print(grid)
        out.print()


def run(args: list[str]) -> None:
    if not args or args[0] in ("--help", "-h", "help"):
        print_help()
        return
    args = redirect(args)
    name = args[0]
    if name not in COMMANDS:
        raise NassegError(f"no command {name!r}; the commands are {', '.join(COMMANDS)} (nasseg --help says what "
                          "each does).")
    load(name)(args=args[1:], prog_name=f"nasseg {name}")


def entry(argv: list[str] | None = None) -> None:
    """Console-script entry: user errors become one red line and exit code 2."""
    try:
        run(sys.argv[1:] if argv is None else list(argv))
    except NassegError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except OSError as err:  # a write the file system refused, wherever it was: one line (nasseg.outputs.writing)
        mapped = file_error(err)
        if mapped is None:
            raise
        console.print(f"[bold red]error:[/] {escape(str(mapped))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    entry()
