"""The report notebook, executed top to bottom as an analyst would, on pipeline-made data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alohub_assets.defs.recordings.call_recordings import call_recordings
from tests.support import DAY, materialize_day

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "call_center_report.ipynb"


def test_notebook_is_committed_without_outputs():
    import nbformat  # here, not at collection: every parallel worker collects this module

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_report_notebook_runs_on_pipeline_data(sandbox, tmp_path, monkeypatch):
    for day in (DAY, DAY + timedelta(days=1)):
        materialize_day(sandbox, tmp_path, day)
    materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings])
    monkeypatch.setenv("ALOHUB_DATA_DIR", str(tmp_path))
    # The kernel inherits our environment; importing Streamlit (the dashboard's tests, in the
    # same process) sets MPLBACKEND=Agg, which would keep the charts out of the outputs.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=180, kernel_name="python3").execute()  # raises on any error
    images = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    # rates, heatmap, waits, agent load; wait percentiles, interval SL heatmap, staffing, repeats
    assert len(images) == 8
    text = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert "600 calls over 2 days" in text
    assert "answered calls have no recording URL yet" in text
