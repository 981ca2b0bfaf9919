"""Download as notebook: a page's selection and fit as a Jupyter notebook, its runs embedded, that
reproduces the fit and the charts with the package's Python API (docs/python-api.md)."""
from __future__ import annotations

from scaling import services
from scaling.store import Store


def notebook_button(col, s: Store, runs, sel: services.Selection, n_boot: int, page: str) -> None:
    """The button; the notebook (an export of the selection's runs inside) is written only when clicked."""
    ids = services.select(runs, sel)["run_id"].tolist()

    def data() -> bytes:
        return services.notebook.for_selection(s, ids, sel, n_boot, origin=f"the {page} page of Scaling Lab")

    col.download_button("Download as notebook", data, file_name="scaling_fit.ipynb", mime="application/x-ipynb+json",
                        on_click="ignore", icon=":material/code:", key=f"notebook_{page}",
                        help="a Jupyter notebook with this selection's runs embedded: it reproduces this fit and "
                             "these charts with the package's Python API, top to bottom, with no app running")
