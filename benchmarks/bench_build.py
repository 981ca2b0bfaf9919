"""How the C kernels are built: the project's build (native_build: the system C compiler, a plain .so
loaded through ctypes) against the same kernels as a torch extension (torch.utils.cpp_extension.load:
native.c compiled as C++ beside pybind11 bindings that take tensors, built by ninja). For each
instruction set this processor runs: the cold build (empty cache) and the warm load (cached), each in
a fresh process, so torch's import is never counted. Everything is built in a temporary folder.
docs/performance.md ("The C build") has the figures.

    python benchmarks/bench_build.py [--isas avx2,portable] [--warm 3] [--no-torch-ext] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The bindings a torch extension needs: one wrapper per kernel, tensors in, raw pointers to the C.
# V comes as NATIVE_V: a macro V on the command line would break torch's headers.
WRAPPER = r"""
#include <torch/extension.h>
#define V NATIVE_V
#include "NATIVE_C"
template <typename T> static T *P(const torch::Tensor &t) { return t.data_ptr<T>(); }
template <typename T> static T *O(const c10::optional<torch::Tensor> &t) { return t ? t->data_ptr<T>() : nullptr; }
using T = torch::Tensor;
using OT = c10::optional<torch::Tensor>;
void s1(T x, int64_t ms, T w, T b, T y, OT s, int64_t M, int64_t c, int64_t B) {
  stage1_forward(P<float>(x), ms, P<float>(w), P<float>(b), P<float>(y), O<uint8_t>(s), M, c, B); }
void s2(T h, T b, T z, OT s, int64_t B, int64_t M, int64_t c2) {
  stage2_forward(P<float>(h), P<float>(b), P<float>(z), O<uint8_t>(s), B, M, c2); }
void s2c(T y, T w, T b, T z, OT s, int64_t B, int64_t M, int64_t c, int64_t c2, int64_t c2p) {
  stage2_conv(P<float>(y), P<float>(w), P<float>(b), P<float>(z), O<uint8_t>(s), B, M, c, c2, c2p); }
void bw(T x, int64_t ms, T y, T s1_, T w, T z, T s2_, T gz, T gw1, T gb1, T gw2, T gb2, int64_t B, int64_t M,
        int64_t c, int64_t c2) {
  conv_backward(P<float>(x), ms, P<float>(y), P<uint8_t>(s1_), P<float>(w), P<float>(z), P<uint8_t>(s2_),
                P<float>(gz), P<float>(gw1), P<float>(gb1), P<float>(gw2), P<float>(gb2), B, M, c, c2); }
void ds(T base, T keep, T out, int64_t M, int64_t n) { dropout_scale(P<int64_t>(base), P<float>(keep), P<float>(out), M, n); }
void ad(T p, T g, T m1, T m2, T lr, int64_t n, double b2, double w1, double w2, double c1, double c2, double e) {
  adam(P<float>(p), P<float>(g), P<float>(m1), P<float>(m2), P<float>(lr), n, b2, w1, w2, c1, c2, e); }
PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("stage1_forward", &s1); m.def("stage2_forward", &s2); m.def("stage2_conv", &s2c);
  m.def("conv_backward", &bw); m.def("dropout_scale", &ds); m.def("adam", &ad); m.def("vector_width", &vector_width);
}
"""


def child(mode: str, isa: str, folder: Path) -> dict:
    """In a fresh process: load (building where the cache is empty) the kernels for `isa` one way."""
    import torch  # noqa: F401  (both ways need it; its import is not timed)

    sys.path.insert(0, str(ROOT))
    from scaling.training import native_build

    width, isa_flags = native_build.ISAS[isa]
    t = time.perf_counter()
    if mode == "ctypes":
        dll = native_build._lib(isa)
        got = dll.vector_width() if dll is not None else None
    else:
        from torch.utils.cpp_extension import load

        src = folder / "wrapper.cpp"
        text = WRAPPER.replace("NATIVE_C", str(native_build.SOURCE))
        if not src.exists() or src.read_text() != text:  # rewritten, ninja would build again
            src.write_text(text)
        flags = [*native_build.COMMON[:2], "-fpermissive", "-w", *isa_flags, f"-DNATIVE_V={width}", "-mtune=native", "-fopenmp"]
        got = load(name=f"native_{isa}", sources=[str(src)], extra_cflags=flags, extra_ldflags=["-fopenmp"]).vector_width()
    return {"mode": mode, "isa": isa, "s": time.perf_counter() - t, "ok": got == width}


def run(mode: str, isa: str, folder: Path) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "xdg"), "TORCH_EXTENSIONS_DIR": str(folder / "torch_ext")}
    out = subprocess.run([sys.executable, __file__, "--child", mode, isa, str(folder)], env=env,
                         capture_output=True, text=True, timeout=900)
    if out.returncode:
        return {"mode": mode, "isa": isa, "s": None, "ok": False, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--isas", default=None, help="comma list (default: every build this processor runs)")
    ap.add_argument("--warm", type=int, default=3, help="warm loads per build")
    ap.add_argument("--no-torch-ext", action="store_true", help="time the project's build only")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], Path(args.child[2]))))
        return 0
    sys.path.insert(0, str(ROOT))
    from scaling.training import native_build

    isas = args.isas.split(",") if args.isas else native_build.runnable_isas()
    modes = ["ctypes"] + ([] if args.no_torch_ext else ["torch_ext"])
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_build_") as tmp:
        for mode in modes:
            for isa in isas:
                cold = run(mode, isa, Path(tmp))
                warm = [run(mode, isa, Path(tmp)) for _ in range(args.warm)]
                rows.append({"mode": mode, "isa": isa, "cold_s": cold["s"], "warm_s": [w["s"] for w in warm],
                             "ok": cold["ok"] and all(w["ok"] for w in warm), **({"error": cold["error"]} if "error" in cold else {})})
    if args.json:
        print(json.dumps({"processor": native_build.processor_name(), "rows": rows}))
        return 0
    print(f"processor: {native_build.processor_name()}")
    for r in rows:
        warm = ", ".join(f"{s * 1e3:.0f}" for s in r["warm_s"] if s is not None)
        cold = f"{r['cold_s']:.2f} s" if r["cold_s"] is not None else f"failed: {r.get('error')}"
        print(f"{r['mode']:9s} {r['isa']:8s} cold {cold:>10s}   warm {warm} ms   {'ok' if r['ok'] else 'NOT OK'}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
