"""`scaling notebook`: the notebook it writes reproduces `scaling fit`'s exponent with the package's
Python API and draws the pages' charts, run top to bottom by a real Jupyter kernel (nbclient)."""
import json
import os

import pytest

from scaling.cli import main


def _fit_alpha(db, capsys, *flags) -> float:
    capsys.readouterr()
    assert main(["fit", "--db", str(db), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)["loss_vs_compute"]["alpha"]


def _code(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_notebook_is_valid_and_its_code_gives_scaling_fits_exponent(grid_db, tmp_path, capsys):
    """The cells run in this process (fast); the kernel's run is the slow test below."""
    flags = ["--dropout", "0.2", "--bootstrap", "0"]
    out = tmp_path / "nb" / "fit.ipynb"
    out.parent.mkdir()
    assert main(["notebook", "-o", str(out), "--db", str(grid_db), *flags, "--embed"]) == 0
    assert not out.with_suffix(".parquet").exists()  # the runs are inside: one file, as the pages download it
    nb = json.loads(out.read_text())
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)  # nbformat validates it in the test below
    scope = {}
    here = os.getcwd()
    os.chdir(out.parent)  # where a notebook's kernel starts
    try:
        for src in _code(nb):
            exec(compile(src, "cell", "exec"), scope)  # noqa: S102  (our own generated cells)
    finally:
        os.chdir(here)
    assert scope["an"].loss_vs_compute.alpha == _fit_alpha(grid_db, capsys, *flags)
    assert scope["plot_loss"](scope["an"], scope["data"]).spec()["datasets"]["runs"]


def test_bad_notebook_arguments_fail_in_a_line(grid_db, tmp_path, capsys):
    assert main(["notebook", "-o", str(tmp_path / "fit.txt"), "--db", str(grid_db)]) == 2
    assert main(["notebook", "-o", str(tmp_path / "fit.ipynb"), "--db", str(grid_db), "--dropout", "0.7"]) == 2
    assert "--dropout 0.7: no cached runs" in capsys.readouterr().err
    assert not list(tmp_path.glob("fit*"))


@pytest.mark.slow
def test_scaling_notebook_executed_top_to_bottom_prints_scaling_fits_exponent_and_draws(grid_db, tmp_path, capsys):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    flags = ["--dropout", "0", "--bootstrap", "20"]
    out = tmp_path / "fit.ipynb"
    assert main(["notebook", "-o", str(out), "--db", str(grid_db), *flags]) == 0
    assert out.with_suffix(".parquet").is_file()  # the runs beside it
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    alpha = _fit_alpha(grid_db, capsys, *flags)
    assert f"alpha_C = {alpha:.4f}" in text  # the line `scaling fit` prints, and the notebook too
    charts = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "application/vnd.vegalite.v6+json" in o.get("data", {})]
    assert len(charts) == 6  # loss, accuracy, N_opt; IsoFLOP, the estimators, the residuals
    assert all(o["data"]["application/vnd.vegalite.v6+json"]["datasets"] for o in charts)
