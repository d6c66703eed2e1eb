"""The offline docs preview: build one page (a derivation typeset by MathJax and a matplotlib figure) with
`.ci/docs_preview.py`, then check it in headless Chromium with `.ci/docs_check.py`.

Skipped, with the reason, where Chromium is not on PATH (CI machines need not have it) or nbconvert is not
installed; `apt-get install chromium` and `pip install -e ".[dev]"` provide them."""
import shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / '.ci'))
import docs_check

def test_preview_page_renders_math_and_figure(tmp_path):
    if not docs_check.find_chromium(): pytest.skip("no chromium on PATH (apt-get install chromium, or set $CHROMIUM)")
    pytest.importorskip('nbconvert', reason="nbconvert is a dev requirement: pip install -e '.[dev]'")
    out = tmp_path / 'preview'
    cmd = [sys.executable, str(ROOT / '.ci/docs_preview.py'), '--only', '02_surrogate', '--out', str(out)]
    local = ROOT / '_preview/mathjax/tex-svg-full.js'                  # reuse a MathJax fetched earlier
    if local.exists(): cmd += ['--mathjax', str(local)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    if not (out / 'mathjax/tex-svg-full.js').exists():
        pytest.skip("no local MathJax (npm pack mathjax@3.2.2 failed, offline?): " + r.stderr[-300:])
    page = out / 'surrogate.html'
    assert page.exists() and (out / 'index.html').exists()
    html = page.read_text()
    assert 'Surrogate gradients' in html and 'multi_gaussian_grad' in html      # title and a show_doc entry
    problems = docs_check.check(page, expect_math='forward', screenshot=tmp_path / 'shot.png')
    assert not problems, problems
    assert (tmp_path / 'shot.png').stat().st_size > 10_000
