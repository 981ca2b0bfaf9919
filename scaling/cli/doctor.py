"""`scaling doctor`: what this machine trains on and why."""
from __future__ import annotations

import json


def doctor(args) -> int:
    """Which path trains here and why, so that a figure measured on one processor is never taken
    for another's."""
    from dataclasses import asdict

    import torch

    from scaling.services.device import device_info
    from scaling.training import devices, native, native_build

    info = device_info()
    path = native.cpu_path()  # times the kernels against the ops on first use (a few seconds)
    builds = {}
    for isa in native_build.ISAS:
        runnable = isa in native_build.runnable_isas()
        dll = native.lib(isa) if runnable and path.how != "off" else None
        builds[isa] = {"vector_width": native_build.ISAS[isa][0], "runnable": runnable,
                       "library": str(dll.path) if dll is not None else None}
    report = {
        "processor": info.name if info.device == "cpu" else native_build.processor_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "compiler": native_build.compiler_version(),
        "builds": builds,
        "cpu_path": {"isa": path.isa, "how": path.how, "line": path.describe(),
                     "timings": [dict(asdict(t), best=t.best) for t in path.timings]},
        "training_device": devices.device_name(info.device),
        # the C kernels are the CNN's convolutions (and its Adam); the MLP is batched matmuls throughout
        "mlp_path": "the PyTorch ops (batched matmuls and foreach Adam) on every device",
        "precision": info.precision,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"processor      {report['processor']} (torch sees {report['cpu_capability']}, {report['threads']} threads)")
    print(f"torch          {report['torch']}")
    print(f"compiler       {report['compiler'] or 'none found'}")
    for isa, b in builds.items():
        state = b["library"] or ("runs here, not built" if b["runnable"] else "this processor cannot run it")
        print(f"build {isa:9s}{b['vector_width']:2d} floats a vector: {state}")
    print(f"CPU path       {path.describe()}")
    for t in sorted(path.timings, key=lambda t: (t.phase, t.width)):
        print(f"  {'training step' if t.phase == 'train' else 'evaluation':13s} width {t.width:3d}: "
              f"{t.kernels_s * 1e3:7.1f} ms all in C, {t.onednn_s * 1e3:7.1f} ms with conv2 on oneDNN, "
              f"{t.ops_s * 1e3:7.1f} ms on the ops: {t.best} ({t.speedup:.2f}x the ops)")
    print(f"trains on      {report['training_device']}, {report['precision']}")
    print(f"MLP family     {report['mlp_path']}")
    return 0
