"""The app's first chart waits only for the modules it needs: the packages import their names on first
use (scaling.core.lazy), and every public name still resolves to what it always named."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from apptest import APP, ROOT

# Asked for only after Explore's charts (the planner, bracketing) or on other pages.
NOT_BEFORE_FIRST_CHART = (
    "scaling.fit.planner", "scaling.fit.studies", "scaling.fit.curves", "scaling.services.planner",
    "scaling.services.studies", "scaling.services.curves", "scaling.services.notebook", "scaling.services.imports",
    "scaling.training", "scaling.workers",
    "app_pages.ui.planner", "app_pages.ui.notebook", "app_pages.ui.start", "app_pages.ui.annotations",
    "scipy.stats", "torch",
)
# The public names that are modules (every other public name is a function, a class or a constant).
MODULE_NAMES = {"scaling.services": {"annotations", "curves", "notebook", "planner", "run_detail", "studies"},
                "scaling.fit": {"studies"}, "app_pages.ui": set()}


def _python(code: str, **env: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_explore_first_chart_imports_none_of_the_later_modules(small_cache, tmp_path):
    """A fresh process runs the app (Explore) under AppTest and notes sys.modules at the first chart."""
    seen = tmp_path / "modules.json"
    _python(f"""
        import json, os, sys
        from streamlit import delta_generator as dg
        from streamlit.testing.v1 import AppTest

        enqueue = dg.DeltaGenerator._enqueue

        def noting(self, delta_type, *a, **k):  # the first chart: its modules written down, the run ended
            if "vega" in delta_type:
                open({str(seen)!r}, "w").write(json.dumps(sorted(sys.modules)))
                os._exit(0)
            return enqueue(self, delta_type, *a, **k)

        dg.DeltaGenerator._enqueue = noting
        at = AppTest.from_file({APP!r}, default_timeout=120).run()
        print([e.message for e in at.exception], [e.value for e in at.error])
        """, SCALING_DB=str(small_cache))
    assert seen.exists(), "Explore drew no chart"
    modules = set(json.loads(seen.read_text()))
    assert "scaling.fit.analysis" in modules  # the point estimates it draws
    early = sorted(m for m in modules if m.startswith(NOT_BEFORE_FIRST_CHART))
    assert not early, f"imported before Explore's first chart: {early}"


def test_every_public_name_resolves_as_before():
    """With every submodule imported (each binds itself on its package), each public name of the lazy
    packages is still what its module defines: a function named like its module stays the function."""
    found = json.loads(_python("""
        import importlib, json, pkgutil, types
        out = {}
        for name in ("scaling.services", "scaling.fit", "app_pages.ui"):
            pkg = importlib.import_module(name)
            for info in pkgutil.walk_packages(pkg.__path__, name + "."):
                importlib.import_module(info.name)
            out[name] = {n: getattr(pkg, n).__name__ if isinstance(getattr(pkg, n), types.ModuleType)
                         else "" for n in pkg.__all__}
            assert set(pkg.__all__) <= set(dir(pkg))
        print(json.dumps(out))
        """))
    for package, names in found.items():
        assert {n for n, module in names.items() if module} == MODULE_NAMES[package], package
        assert all(module in ("", f"{package}.{n}") for n, module in names.items()), package


def test_lazy_names_are_the_modules_objects():
    from app_pages import ui
    from app_pages.ui import run_detail
    from scaling import fit, services
    from scaling.fit import analysis, studies
    from scaling.services import answers, planner

    assert services.point_estimates is answers.point_estimates
    assert fit.analyze is analysis.analyze and fit.studies is studies
    assert ui.run_overlay is run_detail.overlay
    assert services.planner is planner and services.analysis is answers.analysis
    assert "analyze" in dir(fit)
    with pytest.raises(AttributeError, match="no_such_name"):
        services.no_such_name  # noqa: B018


def test_normal_quantiles_without_scipy_stats():
    """The bias-corrected interval and the planner's misfit chance use scipy.special's normal CDF and
    quantile: the numbers scipy.stats.norm gives, bit for bit, without importing scipy.stats."""
    out = json.loads(_python("""
        import json, sys
        import numpy as np
        import scaling.fit.planner
        from scaling.fit.intervals import bootstrap_interval

        rng = np.random.default_rng(0)
        got = [bootstrap_interval(rng.lognormal(0, 1, 200), 1.3, method="bc") for _ in range(20)]
        loaded = "scipy.stats" in sys.modules
        from scipy.stats import norm

        rng = np.random.default_rng(0)
        same = []
        for iv in got:
            s = rng.lognormal(0, 1, 200)
            z0 = norm.ppf(np.clip((np.sum(s < 1.3) + 0.5 * np.sum(s == 1.3)) / s.size, 1 / 400, 1 - 1 / 400))
            lo, hi = np.quantile(s, norm.cdf(2 * z0 + norm.ppf(np.array([(1 - 0.95) / 2, (1 + 0.95) / 2]))))
            same.append(float(lo) == iv.lo and float(hi) == iv.hi)
        print(json.dumps([loaded, same]))
        """))
    assert out == [False, [True] * 20]
