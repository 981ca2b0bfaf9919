"""Scaling Lab core: data -> model -> train -> store -> fit -> charts. No Streamlit in here.

The Python API (docs/python-api.md): `from scaling import load_runs, select, analyze, report, plot_loss, ...`.
Those names live in scaling.api and are imported on first use, so that `import scaling.core` (or the
CLI's fast commands) never pays for the fits and charts, and no subpackage's import reaches back here.
"""

_API = ("Chart", "RunSet", "analyze", "backtest", "load_embedded", "load_runs", "plot_accuracy", "plot_estimators",
        "plot_isoflop", "plot_loss", "plot_nopt", "plot_residuals", "report", "select")


def __getattr__(name: str):
    if name in _API:
        from scaling import api

        return getattr(api, name)
    raise AttributeError(f"module 'scaling' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
