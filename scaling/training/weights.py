"""A trained model's weights as bytes for the store, and back (a fine-tuning run starts from them)."""
from __future__ import annotations

import io

import numpy as np
import torch


def save_weights(p: dict[str, torch.Tensor], i: int) -> bytes:
    """Model i's weights as bytes for the store (a fine-tuning run starts from them): an .npz of
    plain float arrays, which loading never unpickles."""
    buf = io.BytesIO()
    np.savez(buf, **{name: t[i].detach().float().cpu().numpy() for name, t in p.items()})
    return buf.getvalue()


def load_weights(blob: bytes) -> dict[str, torch.Tensor]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {name: torch.from_numpy(z[name]) for name in z.files}
