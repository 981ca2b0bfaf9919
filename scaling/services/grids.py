"""Training grids in the CLI's syntax: the grid spec, the quick sweep per device, the lr scan, a count typed in a field."""
from __future__ import annotations

from dataclasses import dataclass

from scaling.core import arch, grid
from scaling.core.config import RunConfig, with_pretraining
from scaling.core.fmt import frac_label


@dataclass(frozen=True)
class GridSpec:
    """A training grid in the CLI's syntax (the Train page and the quick sweep).

    Attributes
    ----------
    widths, fractions, seeds, dropouts, lr_mults : str
        The grid's axes, as the CLI's ``--widths`` etc. take them (``a:b`` excludes b).
    dataset : str
        The data set every run trains on.
    archs, label_noise, classes, pretrain_classes, pretrain_fraction : str
        The study axes, in the CLI's syntax too (config.STUDY_DEFAULTS): architectures, label-noise
        levels, the digits trained on, the digits pre-trained on, and the pre-training fraction.
    """
    widths: str = "0:4"
    fractions: str = "1/64:1/8"
    seeds: str = "0:2"
    dropouts: str = "0,0.2"
    lr_mults: str = "1"
    dataset: str = "mnist"
    archs: str = "cnn"
    label_noise: str = "0"
    classes: str = ""
    pretrain_classes: str = ""
    pretrain_fraction: str = "1"

    def configs(self) -> list[RunConfig]:
        """The grid's configs, with the pre-training runs its fine-tuning runs start from."""
        return with_pretraining(grid.expand(
            grid.width_steps("widths", self.widths), grid.fractions("fractions", self.fractions),
            grid.int_steps("seeds", self.seeds, 0, 2**31 - 1), grid.floats("dropout", self.dropouts, 0, 1, hi_open=True),
            grid.floats("lr multiplier", self.lr_mults, 1e-6, 1e6), dataset=self.dataset,
            archs=grid.strings("architecture", self.archs, arch.ARCHS),
            label_noises=grid.floats("label noise", self.label_noise, 0, 1, hi_open=True),
            classes=grid.digits("digits", self.classes),
            pretrain_classes=grid.digits("pre-training digits", self.pretrain_classes),
            pretrain_fraction=grid.fractions("pre-training fraction", self.pretrain_fraction)[0]))

    def label(self) -> str:
        """In words, ranges inclusive (the CLI's a:b excludes b; a caption beside a slider must not)."""
        w = grid.width_steps("widths", self.widths)
        sd = grid.int_steps("seeds", self.seeds, 0, 2**31 - 1)
        fr = grid.fractions("fractions", self.fractions)

        def span(v, fmt=str):
            return fmt(v[0]) if len(v) == 1 else f"{fmt(min(v))}–{fmt(max(v))}" if len(v) > 2 else \
                f"{fmt(v[0])}, {fmt(v[1])}"
        return (f"width steps {span(w)} · fractions {span(fr, frac_label)} · {len(sd)} seed{'s' * (len(sd) != 1)} "
                f"({span(sd)}) · dropout {self.dropouts.replace(',', ', ')} · lr ×{self.lr_mults.replace(',', ', ×')}"
                f" · {self.dataset}" + "".join(f" · {x}" for x in self._study_words()))

    def _study_words(self) -> list[str]:
        out = []
        if self.archs != "cnn":
            out.append(self.archs.upper().replace(",", ", "))
        if self.label_noise != "0":
            out.append(f"label noise {self.label_noise.replace(',', ', ')}")
        if self.classes:
            out.append(f"digits {self.classes}")
        if self.pretrain_classes:
            out.append(f"pre-trained on {self.pretrain_classes} ({self.pretrain_fraction} of them)")
        return out


LR_SCAN = (0.5, 1.0, 2.0)  # the multipliers a tuned learning rate needs at the least (the CLI's --lr-scan)

# Widths below 4 and fractions up to all of MNIST, so that the envelope and IsoFLOP estimators can
# answer at dropout 0 and 0.2 (the optimum sits inside the grid). The GPU grid is the exercise's
# (widths to 45, 3 seeds) with the same widths below 4 added.
QUICK_CPU = GridSpec(widths="-4:5", fractions="1/256:1", seeds="0:2", dropouts="0,0.2")
QUICK_GPU = GridSpec(widths="-4:8", fractions="1/128:1", seeds="0:3", dropouts="0,0.2")


def quick_grid(device: str) -> GridSpec:
    """The quick sweep for a device ('cpu', else a GPU)."""
    return QUICK_CPU if device == "cpu" else QUICK_GPU


def parse_count(text: str, lo: int, hi: int) -> int | str:
    """A whole number typed in a field, within [lo, hi]; otherwise the reason, in words (never
    rounded: '2.5' and '1e9' are refused, not read as 2 and 1)."""
    t = text.strip()
    if not t:
        return f"type a whole number from {lo} to {hi}"
    if not t.lstrip("+-").isdigit():
        return f"'{t}' is not a whole number (from {lo} to {hi})"
    n = int(t)
    if not lo <= n <= hi:
        return f"{n if len(t) <= 9 else t[:6] + '…'} is outside {lo} to {hi}"
    return n
