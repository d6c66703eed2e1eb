"""The figure check of `.ci/figures.py`: quoted numbers in prose must equal their results files.

It passes on the repository as committed, and fails, naming the number and the file's value, when a quoted figure
is changed on purpose."""
import json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / '.ci'))
import figures

def test_repository_figures_agree():
    problems, n = figures.check_files(figures.default_paths())
    assert not problems, '\n'.join(problems)
    assert n >= 100                                   # index, 12_energy and the explanations quote >100 figures

def _nb(path, text):
    path.write_text(json.dumps({'cells': [{'cell_type': 'markdown', 'metadata': {}, 'source': [text]}],
                                'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    return path

MARK = '<!--fig {nbs/bench/cpu.csv[row=hrmas_lif_tsslbp,T=100,B=16,N=512]:median_ms} ; .2f-->'

def test_deliberate_mismatch_fails(tmp_path):
    ok = _nb(tmp_path / 'ok.ipynb', f'TSSL-BP takes 9.44{MARK} ms')
    bad = _nb(tmp_path / 'bad.ipynb', f'TSSL-BP takes 9.45{MARK} ms')
    run = lambda p: subprocess.run([sys.executable, str(ROOT / '.ci/figures.py'), str(p)], capture_output=True, text=True, cwd=ROOT)
    r = run(ok); assert r.returncode == 0, r.stdout + r.stderr
    r = run(bad); assert r.returncode == 1
    assert 'prose says 9.45 but the results file gives 9.44' in r.stdout

@pytest.fixture
def results(tmp_path):
    (tmp_path / 'r.csv').write_text('run,seed,acc,ms\na,0,0.80,1.5\na,1,0.90,2.5\nb,0,0.70,10\n')
    (tmp_path / 'r.json').write_text(json.dumps({'runs': [{'acc': 0.875}], 'total': 12}))
    return tmp_path

def check(text, root): return figures.check_text(text, 'test', root=root)

def test_references_aggregates_and_arithmetic(results):
    text = ('<!--figdef r=r.csv-->b 0.70<!--fig {r[run=b]:acc} ; .2f-->, mean 0.85<!--fig {r[run=a]:acc@mean} ; .2f--> ± '
            '0.07<!--fig {r[run=a]:acc@std} ; .2f-->, ratio 4.0<!--fig {r[run=b]:ms}/{r[run=a,seed=1]:ms} ; .1f-->×, '
            '87.5<!--fig {r.json:runs.0.acc}*100 ; .1f--> %, best 2.5<!--fig max({r[run=a,seed=0]:ms}, {r[run=a,seed=1]:ms}) ; .1f-->, '
            '12<!--fig {r.json:total} ; .0f--> runs, −2.5<!--fig -{r[run=a,seed=1]:ms} ; .1f-->')
    problems, n = check(text, results)
    assert (problems, n) == ([], 8)

@pytest.mark.parametrize('text, message', [
    ('x 1.0<!--fig {r.csv[run=a]:acc} ; .1f-->', 'matches 2 rows; it must match exactly one'),
    ('x 1.0<!--fig {r.csv[run=c]:acc} ; .1f-->', 'matches 0 rows'),
    ('x 1.0<!--fig {r.csv[run=b]:loss} ; .1f-->', "has no column 'loss'"),
    ('x 1.0<!--fig {r.csv[run=b]:acc@median} ; .1f-->', 'unknown aggregate @median'),
    ('x 1.0<!--fig {nope.csv[run=b]:acc} ; .1f-->', 'nope.csv not found'),
    ('x 1.0<!--fig {r.json:runs.3.acc} ; .1f-->', "no key 'runs.3.acc'"),
    ('x 1.0<!--fig {r.csv[run=b]:acc} .1f-->', "needs '; <format spec>'"),
    ('x 1.0<!--fig __import__("os") ; .1f-->', 'reads no results file'),
    ('x 1.0<!--fig {r.csv[run=b]:acc} + __import__("os") ; .1f-->', 'may only hold references'),
    ('x <!--fig {r.csv[run=b]:acc} ; .1f-->', 'must follow a number directly'),
])
def test_bad_markers_are_reported(results, text, message):
    problems, n = check(text, results)
    assert n == 1 and len(problems) == 1 and message in problems[0], problems

def test_unmarked_lists_bare_figures(tmp_path):
    p = tmp_path / 'a.md'; p.write_text('took 12.5 ms and 9.44<!--fig {x.csv[a=b]:c} ; .2f--> ms; $x = 3.5 ms$ is maths')
    assert [s for _, s in figures.unmarked([p])] == ['12.5 ms']

def test_glob_selector(results):
    problems, n = check('min 1.5<!--fig {r.csv[run=*]:ms@min} ; .1f--> and a 0.85<!--fig {r.csv[run=a]:acc@mean} ; .2f--> 0.80<!--fig {r.csv[run=?,seed=0]:acc@max} ; .2f-->', results)
    assert (problems, n) == ([], 3)

def test_bench_summary_is_derived_from_cpu_csv():
    "The summary the prose quotes (nbs/bench/cpu_summary.csv) is exactly `bench_summary` of the committed cpu.csv."
    from hrmas.bench import bench_summary, read_csv, summary_csv, summary_path
    cpu = ROOT / 'nbs/bench/cpu.csv'
    assert summary_path(cpu).read_text() == summary_csv(bench_summary(read_csv(cpu))), \
        'nbs/bench/cpu_summary.csv is stale: regenerate it with hrmas.bench.summary_csv(bench_summary(read_csv(...)))'

def test_summary_markers_are_short():
    "README markers quote the summary file, not min-over-peers expressions of cpu.csv."
    marks = figures.MARK.findall((ROOT / 'README.md').read_text())
    assert marks and max(len(m) for m in marks) < 120, max(marks, key=len)

def test_nofig_marks_numbers_that_are_not_results(tmp_path, results):
    p = tmp_path / 'a.md'
    p.write_text('paper 85.9<!--nofig paper: Yin et al. 2021--> % and bins of 15<!--nofig param--> ms, but 3.5 ms unexplained')
    assert [s for _, s in figures.unmarked([p])] == ['3.5 ms']
    assert check('85.9<!--nofig paper: Yin et al. 2021--> % 15<!--nofig param--> ms', results) == ([], 0)
    problems, _ = check('12<!--nofig guess--> ms', results); assert "nofig kind 'guess' unknown" in problems[0]
    problems, _ = check('fast<!--nofig param-->', results); assert 'must follow a number' in problems[0]
