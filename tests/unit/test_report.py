"""almacal.report and the terminal without CASA: the record's repr, escaping, the
one-line summary of a CASA call's warnings."""

import json
import pickle

from almacal.casatask.record import TaskRecord
from almacal.casatask.terminal import call_label, summarize
from almacal.report.build import body_for, render_page

APPLY = {
    "mode": "split",
    "dryrun": True,
    "applied": False,
    "rescale": [
        {
            "vis": "/d/ep1.ms",
            "factor": 1.0234836,
            "outputvis": "/d/ep1.rescaled.ms",
            "caltable": "/d/ep1.rescaled.relcal.amp",
            "gencal_parameter": 0.98846,
            "datacolumn": "DATA",
        }
    ],
}


def test_record_is_a_plain_dict_for_code_and_a_summary_at_the_prompt():
    rec = TaskRecord(APPLY, task="relcal_apply")
    assert isinstance(rec, dict) and rec == APPLY and json.loads(json.dumps(rec)) == APPLY
    assert type(pickle.loads(pickle.dumps(rec))) is dict  # travels without almacal
    text = repr(rec)
    assert text.startswith("relcal_apply: 1 MS, mode split (dry run: nothing written)")
    assert "factor 1.023484" in text and "4 keys" in text
    assert len(text.splitlines()) < 10 and "gencal_parameter" not in text


def test_report_escapes_what_it_shows_and_fetches_nothing():
    body = body_for("relcal_apply", APPLY, figures={}, warnings=["<script>x</script> & more"])
    page = render_page(body)
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt; &amp; more" in page
    assert "http://" not in page and "https://" not in page
    assert "1.023484" in page and "0.988460" in page  # factor and gencal parameter


def test_a_call_s_solution_flags_are_summed_in_one_line():
    lines = [
        "2026-12-01 10:00:00\tINFO\tgaincal::Calibrater\tsolving\n",
        "2026-12-01 10:00:01\tWARN\tgaincal::Calibrater::solve\t"
        "18 of 20 solutions flagged due to SNR < 3 in spw=0 at 2019/04/07/21:00:05.0\n",
        "2026-12-01 10:00:02\tWARN\tgaincal::Calibrater::solve\t"
        "2 of 20 solutions flagged due to SNR < 3 in spw=1 at 2019/04/07/21:00:05.0\n",
        "2026-12-01 10:00:03\tWARN\tgaincal::\tFound no unflagged data at: 2019/04/07/21:01:00\n",
        "2026-12-01 10:00:04\tWARN\tgaincal::\tFound no unflagged data at: 2019/04/07/21:02:00\n",
    ]
    label = call_label({"vis": "/x/ep03.ms.selfcal.ms", "field": "SMM9", "solint": "20.2s"})
    text = summarize("gaincal", label, lines)
    assert text == (
        "gaincal ep03.ms.selfcal.ms field SMM9 solint 20.2s: 20 of 40 solutions flagged, "
        "SNR < 3; 2 x 'Found no unflagged data at: #' (details in the CASA log)"
    )
    assert summarize("gaincal", "", lines[:1]) is None  # no warning: no line
