"""`scaling fit --compute`: the shipped grid counted both ways, the convention named in the output."""
import json

import pytest

from scaling.cli import main
from scaling.store.exchange import SHIPPED


@pytest.fixture(scope="module")
def shipped_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("shipped") / "runs.duckdb"
    assert main(["import", str(SHIPPED), "--db", str(db)]) == 0
    return db


def _fit(db, capsys, *flags):
    assert main(["fit", "--db", str(db), "--dropout", "0", "--bootstrap", "0", "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def test_six_n_d_is_a_choice_named_in_the_output_and_moves_alpha_c(shipped_db, capsys):
    capsys.readouterr()
    own, peers = _fit(shipped_db, capsys), _fit(shipped_db, capsys, "--compute", "6nd")
    assert own["convention"] == "3fd" and peers["convention"] == "6nd"
    a3, a6 = own["loss_vs_compute"]["alpha"], peers["loss_vs_compute"]["alpha"]
    # docs/intervals.md: 0.563 -> 0.472 at dropout 0 with the backtest's law (irreducible, Huber)
    assert own["law_choice"] == peers["law_choice"] == "the backtest's choice: irreducible form, Huber"
    assert a6 < a3 and a3 - a6 == pytest.approx(0.091, abs=0.01)
    pure3, pure6 = (_fit(shipped_db, capsys, "--pure", *c)["loss_vs_compute"]["alpha"] for c in ((), ("--compute", "6nd")))
    assert pure3 - pure6 == pytest.approx(0.038, abs=0.01)  # the pure Huber law: -0.038
    assert main(["fit", "--db", str(shipped_db), "--compute", "5nd"]) == 2
    assert "--compute" in capsys.readouterr().err
