"""`scaling curve`: the learning-curve benchmark through the command line, scored from its JSON."""
import json
from pathlib import Path

import numpy as np

from scaling.cli import main

LANG = Path(__file__).resolve().parents[1] / "data" / "extrapolation_benchmark_lang.csv"
FLAGS = ["--x-col", "Seen Examples", "--loss-col", "Loss", "--group", "Domain,Task,Model", "--train-col", "Training"]


def test_the_language_benchmark_scored_from_the_json_beats_the_papers_m4(capsys):
    assert main(["curve", "--csv", str(LANG), *FLAGS, "--json"]) == 0
    curves = json.loads(capsys.readouterr().out)["curves"]
    assert len(curves) == 20
    scores = []
    for c in curves:
        held = [p for p in c["predictions"] if not p["fitted"]]
        assert held and set(c["group"]) == {"Domain", "Task", "Model"}
        log_err = [np.log(p["predicted"]) - np.log(p["loss"]) for p in held]
        scores.append(float(np.sqrt(np.mean(np.square(log_err)))))
        assert abs(c["rmse_log"] - scores[-1]) < 1e-9  # the JSON says what its predictions score
    assert np.mean(scores) <= 0.0116 and np.median(scores) <= 0.0062  # the paper's M4 mean, M3 median


def test_a_bad_table_is_one_line_naming_the_column_or_the_file(tmp_path, capsys):
    assert main(["curve", "--csv", str(LANG), "--x-col", "steps", "--loss-col", "Loss"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'steps'" in err
    missing = tmp_path / "none.csv"
    assert main(["curve", "--csv", str(missing), "--x-col", "x", "--loss-col", "y"]) == 2
    assert str(missing) in capsys.readouterr().err
    few = tmp_path / "few.csv"
    few.write_text("x,y\n1,2\n2,1\n")
    assert main(["curve", "--csv", str(few), "--x-col", "x", "--loss-col", "y"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "3" in err
