"""Cell and decoder built from a :class:`Genotype` (SPEC §3), with auxiliary heads.

Auxiliary heads (``aux="cell"``: an auxiliary cell of the same genotype then a 3x3
classifier; ``aux="clf"``: the 3x3 classifier alone) follow each decoder cell's sum. They
give extra supervision in training only: :meth:`Decoder.forward` returns them only when
asked, and :func:`strip_aux` removes them for inference, export and counting.
"""
from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .genotype import NUM_TAPS, Genotype
from .ops import conv_bn_relu, make_op

AuxKind = Literal["none", "cell", "clf"]


class Cell(nn.Module):
    def __init__(self, genotype: Genotype, channels: int, repeats: int = 1):
        super().__init__()
        self.layers_spec = genotype.layers
        self.outputs = genotype.cell_output_nodes
        self.op0 = make_op(genotype.op0, channels, repeats)
        self.ops = nn.ModuleList(
            nn.ModuleList([make_op(oa, channels, repeats), make_op(ob, channels, repeats)])
            for (_, _, oa, ob) in genotype.layers
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x, self.op0(x)]
        for (p1, p2, _, _), (op_a, op_b) in zip(self.layers_spec, self.ops):
            a, b = op_a(nodes[p1]), op_b(nodes[p2])
            nodes += [a, b, a + b]
        out = nodes[self.outputs[0]]
        for i in self.outputs[1:]:
            out = out + nodes[i]
        return out


def _up(x: torch.Tensor, size) -> torch.Tensor:
    if x.shape[2:] == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class Decoder(nn.Module):
    """Encoder taps -> 1x1 adaptation -> decoder cells -> concatenation -> classifier."""

    def __init__(self, genotype: Genotype, in_channels: Sequence[int] = (24, 32, 96, 320), *,
                 num_classes: int = 21, width: int = 64, repeats: int = 2, aux: AuxKind = "none"):
        super().__init__()
        if len(in_channels) != NUM_TAPS:
            raise ValueError(f"the cell decoder takes {NUM_TAPS} encoder taps, got {len(in_channels)}")
        if aux not in ("none", "cell", "clf"):
            raise ValueError(f"aux must be 'none', 'cell' or 'clf', got {aux!r}")
        self.genotype = genotype
        self.aux_kind = aux
        self.adapt = nn.ModuleList(conv_bn_relu(c, width, 1) for c in in_channels)
        self.cells = nn.ModuleList(
            nn.ModuleList([Cell(genotype, width, repeats), Cell(genotype, width, repeats)]) for _ in genotype.connections
        )
        self.merge = nn.ModuleList(
            nn.ModuleList([conv_bn_relu(width, width, 1), conv_bn_relu(width, width, 1)]) for _ in genotype.connections
        )
        self.outputs = genotype.decoder_output_indices
        self.fuse = conv_bn_relu(width * len(self.outputs), width, 1)
        self.classifier = nn.Conv2d(width, num_classes, 3, padding=1, bias=True)
        if aux == "none":
            self.aux_heads = None
        else:
            self.aux_heads = nn.ModuleList(
                nn.Sequential(*([Cell(genotype, width, repeats)] if aux == "cell" else []),
                              nn.Conv2d(width, num_classes, 3, padding=1, bias=True))
                for _ in genotype.connections
            )

    def forward(self, feats: Sequence[torch.Tensor], return_aux: bool = False):
        pool = [adapt(f) for adapt, f in zip(self.adapt, feats)]
        aux_out = []
        for b, ((ia, ib), (cell_a, cell_b), (m_a, m_b)) in enumerate(zip(self.genotype.connections, self.cells, self.merge)):
            xa, xb = m_a(cell_a(pool[ia])), m_b(cell_b(pool[ib]))
            size = max(xa.shape[2:], xb.shape[2:])
            s = _up(xa, size) + _up(xb, size)
            pool.append(s)
            if return_aux and self.aux_heads is not None:
                aux_out.append(self.aux_heads[b](s))
        outs = [pool[i] for i in self.outputs]
        size = max(o.shape[2:] for o in outs)
        x = torch.cat([_up(o, size) for o in outs], 1)
        logits = self.classifier(self.fuse(F.relu(x)))
        return (logits, aux_out) if return_aux else logits
