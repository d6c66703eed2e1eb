"""Run every notebook top to bottom as a pytest test (cells flagged `slow` or `cuda` are skipped).

Each test calls `nbdev.test.test_nb`, the runner `nbdev_test` uses, with the same skip flags, the same working
directory (the notebook's folder) and the same `.notest` and `_name` exclusions, so a pass here is an `nbdev_test`
pass and CI runs the notebooks once. `pytest tests/` prints one pass/fail per notebook; `HRMAS_TEST_FLAGS="slow"`
runs the flagged cells too. The largest notebooks come first, so that two workers finish at about the same time."""
import os, warnings, pytest
from pathlib import Path
from nbdev.config import get_config
import nbdev.test as nbtest        # the module, not the function: pytest would collect `test_nb`
from nbdev.doclinks import nbglob

_cfg = get_config()
_NBS = sorted((p for p in nbglob(as_path=True) if not (p.parent/'.notest').exists()), key=lambda p: (-p.stat().st_size, str(p)))
_force = os.environ.get('HRMAS_TEST_FLAGS', '').split()

@pytest.mark.parametrize('nb', _NBS, ids=[str(p.relative_to(_cfg.nbs_path)) for p in _NBS])
def test_notebook(nb):
    # Warnings a notebook raises stay inside it (its own cells test them): a warning class defined in a notebook
    # lives in its `__main__`, which pytest-xdist cannot look up when it carries the warning to the controller.
    with warnings.catch_warnings(record=True):
        ok, secs = nbtest.test_nb(Path(nb).absolute(), skip_flags=_cfg.tst_flags.split(), force_flags=_force,
                                  basepath=_cfg.config_path)
    assert ok, f'{nb} failed (its traceback is printed above)'
