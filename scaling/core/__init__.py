"""The vocabulary every layer shares, with no torch, DuckDB or Streamlit in it.

    arch.py    the model families' sizes: width per step, N and forward FLOPs per example
    config.py  RunConfig (one run's frozen identity), the protocol version, run ids
    grid.py    grids of run configs from ranges (`0:8`, `1/128:1`), and their checks
    paths.py   where files live by default: the run database, the built C kernels
    fmt.py     numbers, equations and reasons as the words a page or the CLI shows; md_text
    text.py    text from files made safe to print on a terminal
    lazy.py    a package's names imported on first use (services, fit, the pages' ui)
"""
