"""Builds the C kernels (scaling/training/native.c) for this processor's instruction set and loads them, cached per user.

The build is chosen for the instruction set it runs on (AVX-512, AVX2 + FMA, or a portable build:
V floats a vector, register blocks sized to the ISA's registers), compiled on first use with the
system's C compiler into a per-user cache and called through ctypes. Compiling here rather than at
install time: the build is chosen and tuned on the machine that trains (a wheel built elsewhere, or a
shared virtualenv on a cluster of mixed processors, would fix one ISA for all), and an install-time
build would need the same compiler.

Plain C through ctypes, not a torch extension (torch.utils.cpp_extension.load): that would need a C++
compiler, ninja and torch's headers, build far slower and rebuild with torch (docs/performance.md, "The C build").
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import torch

from scaling.core import paths, settings

SOURCE = Path(__file__).with_name("native.c")
# One build per instruction set, V floats a vector (native.c reads V). The widest the processor
# runs is chosen (as torch's own dispatch detects it); SCALING_NATIVE_ISA names another one, and a
# machine can build and test the narrower ones (an AVX-512 processor runs AVX2 code).
ISAS = {
    "avx512": (16, ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mprefer-vector-width=512"]),
    "avx2": (8, ["-mavx2", "-mfma"]),
    "portable": (4, []),  # SSE2 on x86-64, NEON on 64-bit ARM: the compiler's baseline
}
# Tried in order after the ISA's flags until one compiles: tuned for this CPU with OpenMP (gcc);
# untuned (compilers without -mtune=native); no OpenMP (Apple's clang: the kernels then run on one core).
FLAG_SETS = [["-mtune=native", "-fopenmp"], ["-fopenmp"], []]
COMMON = ["-O3", "-fno-math-errno", "-shared", "-fPIC"]
_P, _I, _I64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
SIGNATURES = {
    "stage1_forward": ([_P, _I64, _P, _P, _P, _P, _I, _I, _I], None),
    "stage2_forward": ([_P, _P, _P, _P, _I, _I, _I], None),
    "stage2_conv": ([_P, _P, _P, _P, _P, _I, _I, _I, _I, _I], None),
    "conv_backward": ([_P, _I64, _P, _P, _P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _I, _I], None),
    "dropout_scale": ([_P, _P, _P, _I, _I64], None),
    "adam": ([_P, _P, _P, _P, _P, _I64, *[ctypes.c_float] * 6], None),
    "vector_width": ([], _I),
}


def _cpu_id() -> str:
    """What -mtune=native tunes for, so that a cache shared between machines (a network home)
    never hands one CPU another's build: the CPU's feature lines (x86 "flags", ARM "Features"),
    and the host's name where the system does not list them (macOS)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    features = sorted({ln for ln in lines if ln.split(":")[0].strip() in ("flags", "Features", "CPU part", "model name")})
    return " ".join([platform.machine(), platform.processor(), *(features or [platform.node()])])


@functools.cache
def runnable_isas() -> list[str]:
    """The builds this processor can run, widest first."""
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    cap = torch.backends.cpu.get_cpu_capability() if x86 else ""  # "AVX512", "AVX2", "DEFAULT", ...
    return {"AVX512": ["avx512", "avx2", "portable"], "AVX2": ["avx2", "portable"]}.get(cap, ["portable"])


def chosen_isa() -> str:
    """The build the kernels run from: SCALING_NATIVE_ISA where set, else the widest this CPU runs."""
    name = settings.native_isa()
    if not name:
        return runnable_isas()[0]
    if name not in ISAS:
        raise ValueError(f"SCALING_NATIVE_ISA={name!r}: not one of {', '.join(ISAS)}")
    if name not in runnable_isas():
        raise ValueError(f"SCALING_NATIVE_ISA={name!r}: this processor runs only {', '.join(runnable_isas())}")
    return name


def lib(isa: str | None = None) -> ctypes.CDLL | None:
    """The compiled kernels for `isa` (default: chosen_isa()), or None where they cannot be built
    (the callers then use torch ops)."""
    if settings.native_mode() == "0":
        return None
    return _lib(isa or chosen_isa())


@functools.cache
def _lib(isa: str) -> ctypes.CDLL | None:
    cc = _compiler()
    if cc is None:
        _why_not[isa] = "no C compiler (cc, gcc or clang) found"
        warnings.warn(f"scaling: {_why_not[isa]}; training on the CPU uses plain torch ops", RuntimeWarning, stacklevel=2)
        return None
    so = _cached(cc, isa)
    try:
        if not so.exists():
            _build(cc, so, isa)
        try:
            dll = ctypes.CDLL(str(so))
        except OSError:  # a damaged cached build (another process's disk filled up, say): build it again, once
            so.unlink(missing_ok=True)
            _build(cc, so, isa)
            dll = ctypes.CDLL(str(so))
    except (OSError, subprocess.SubprocessError) as e:  # no working compiler, an unwritable cache
        _why_not[isa] = f"the C kernels could not be built ({e})"
        warnings.warn(f"scaling: {_why_not[isa]}; training on the CPU uses plain torch ops", RuntimeWarning, stacklevel=2)
        return None
    for name, (args, res) in SIGNATURES.items():
        fn = getattr(dll, name)
        fn.argtypes, fn.restype = args, res
    dll.isa, dll.path = isa, so
    _check(dll.vector_width() == ISAS[isa][0], f"{so} holds {dll.vector_width()}-float vectors, not {isa}'s {ISAS[isa][0]}")
    return dll


_why_not: dict[str, str] = {}  # why lib(isa) is None, for doctor()


def compiler_version() -> str | None:
    """The compiler the kernels are built with, and its first version line."""
    cc = _compiler()
    if cc is None:
        return None
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    return f"{cc}: {out.splitlines()[0]}" if out.strip() else cc


def processor_name() -> str:
    """The CPU's model name, as lscpu and /proc/cpuinfo give it."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor() or platform.machine())


def _compiler() -> str | None:
    return shutil.which(settings.compiler_name()) or shutil.which("gcc") or shutil.which("clang")


def _cached(cc: str, isa: str) -> Path:
    """Where the build for this source, compiler, ISA and CPU lives."""
    key = hashlib.sha256(SOURCE.read_bytes() + repr([cc, isa, ISAS[isa], FLAG_SETS, COMMON, _cpu_id()]).encode()).hexdigest()[:16]
    return paths.kernel_cache() / f"native-{isa}-{key}.so"


def _is_gcc(cc: str) -> bool:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in out and "clang" not in out


def _build(cc: str, so: Path, isa: str) -> None:
    so.parent.mkdir(parents=True, exist_ok=True)
    # OpenMP only from gcc: its libgomp is the runtime torch runs on (Linux wheels), so both share
    # one team of threads; clang's libomp would be a second pool fighting torch's for the cores.
    flag_sets = FLAG_SETS if _is_gcc(cc) else [f for f in FLAG_SETS if "-fopenmp" not in f]
    width, isa_flags = ISAS[isa]
    # build beside the target and rename: concurrent workers never load a half-written file
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=so.parent)
    os.close(fd)
    try:
        for flags in flag_sets:
            done = subprocess.run([cc, *COMMON, *isa_flags, f"-DV={width}", *flags, str(SOURCE), "-o", tmp],
                                  capture_output=True, timeout=120)
            if done.returncode == 0:
                os.replace(tmp, so)
                _prune(so)
                return
        raise subprocess.SubprocessError(f"{cc} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _prune(keep: Path, days: float = 30) -> None:
    """Remove builds of other versions unused for a month (one is left per source edit)."""
    for old in keep.parent.glob("native-*"):
        try:
            if old != keep and old.suffix in (".so", ".json") and time.time() - old.stat().st_atime > days * 86400:
                old.unlink()
        except OSError:
            pass


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"native kernels: {what}")
