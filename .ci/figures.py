"""Check that every figure quoted in prose matches the results file it comes from.

A quoted number is tied to its source by an HTML comment written right after it (invisible in the docs and
on GitHub):

    TSSL-BP takes 9.44<!--fig {nbs/bench/cpu.csv[row=hrmas_lif_tsslbp,T=100,N=512]:median_ms} ; .2f--> ms

* `{FILE[SELECTOR]:KEY}` reads one value. FILE is relative to the repository root (or an alias, below).
  CSV: SELECTOR is `column=value,...` (a value may be a glob: `row=hrmas_lif_*`) and must match exactly one row;
  KEY is the column. JSON: no selector
  (or `[i]` for a top-level list); KEY is a dotted path (`runs.0.acc`).
* `{FILE[SELECTOR]:KEY@AGG}` reduces every matching CSV row: AGG is mean, std (sample), min, max, sum or count.
* Before `;` is an arithmetic expression of such references and numbers (`+ - * / ( )`, `min`, `max`,
  `abs`), e.g. `{a}/{b}` for a ratio or `{x}*100` for a percentage.
* After `;` is a Python format spec (`.2f`, `,.0f`, `.1%`; a `;`, not a `|`, so that a marker can sit in a table); the formatted value must equal the quoted
  number exactly (a Unicode minus counts as `-`).
* `<!--figdef cpu=nbs/bench/cpu.csv-->` anywhere in a notebook or markdown file defines an alias for it.
* A number that is not a result of this repository says so instead, right after the number, as a fig marker: `85.9<!--nofig paper: Yin et
  al. 2021--> %`, `15<!--nofig param--> ms`. KIND is one of `paper` (a published figure, cite it), `param` (a
  setting or constant we chose or took as given), `example` (a worked or made-up example) or `calc` (arithmetic in the
  prose itself); `--unmarked` leaves these out, and an unknown KIND or a nofig that follows no number is an error.

`python .ci/figures.py` checks the markdown cells of every notebook under nbs/, the results pages and README.md and exits 1 on
any disagreement, unreadable marker or missing file. `--unmarked` lists numbers in prose that carry no
marker (a to-do list, not a failure).
"""
import ast, csv, fnmatch, json, operator, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = re.compile(r'<!--\s*fig\s+(?P<body>.*?)-->', re.S)
NOFIG = re.compile(r'<!--\s*nofig\s+(?P<kind>\w+)(?::[^>]*?)?\s*-->')
NOFIG_KINDS = ('paper', 'param', 'example', 'calc')
DEF = re.compile(r'<!--\s*figdef\s+(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<path>\S+?)\s*-->')
NUM = re.compile(r'[-\u2212+]?\d[\d,]*(?:\.\d+)?$')
REF = re.compile(r'\{(?P<file>[^\[\]{}:]+)(?:\[(?P<sel>[^\]]*)\])?:(?P<key>[^{}@]+)(?:@(?P<agg>\w+))?\}')
_FUNCS = {'min': min, 'max': max, 'abs': abs}
def _std(v):
    m = sum(v) / len(v); return (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.
_AGGS = {'mean': lambda v: sum(v) / len(v), 'std': _std, 'min': min, 'max': max, 'sum': sum, 'count': len}
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.USub: operator.neg, ast.UAdd: operator.pos}

class FigureError(Exception): pass

def _num(s):
    try: return float(s)
    except (TypeError, ValueError): return None

def _same(cell, want):
    "A cell matches a selector value if equal as text or as numbers, or by glob (`row=hrmas_lif_*`)."
    a, b = _num(cell), _num(want)
    if any(ch in want for ch in '*?'): return fnmatch.fnmatchcase(cell.strip(), want.strip())
    return cell.strip() == want.strip() or (a is not None and b is not None and a == b)

_cache = {}
def _load(path):
    if path not in _cache:
        if not path.is_file(): raise FigureError(f"results file {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} not found")
        if path.suffix == '.csv':
            with open(path, newline='') as f: _cache[path] = list(csv.DictReader(f))
        elif path.suffix == '.json': _cache[path] = json.loads(path.read_text())
        else: raise FigureError(f"{path.name}: only .csv and .json results files are supported")
    return _cache[path]

def lookup(file, sel, key, aliases, root=ROOT, agg=None):
    "The value (float) of one reference; `agg` (mean, std, min, max, sum, count) reduces all matching CSV rows."
    if agg is not None and agg not in _AGGS: raise FigureError(f"unknown aggregate @{agg}; choose from {', '.join(_AGGS)}")
    path = Path(root) / aliases.get(file.strip(), file.strip())
    data = _load(path)
    if path.suffix == '.csv':
        if not data: raise FigureError(f"{path.name} has no rows")
        if key not in data[0]: raise FigureError(f"{path.name} has no column {key!r} (columns: {', '.join(data[0])})")
        conds = [c.split('=', 1) for c in (sel or '').split(',') if c.strip()]
        if any(len(c) != 2 for c in conds): raise FigureError(f"selector [{sel}] must be column=value pairs separated by commas")
        for k, _ in conds:
            if k.strip() not in data[0]: raise FigureError(f"{path.name} has no column {k.strip()!r} to select on")
        rows = [r for r in data if all(_same(r[k.strip()], v) for k, v in conds)]
        if agg is not None:
            if not rows: raise FigureError(f"{path.name}[{sel}] matches no row")
            vals = [_num(r[key]) for r in rows]
            if None in vals: raise FigureError(f"{path.name}[{sel}]: column {key!r} holds a non-number")
            return float(_AGGS[agg](vals))
        if len(rows) != 1: raise FigureError(f"{path.name}[{sel}] matches {len(rows)} rows; it must match exactly one")
        val = rows[0][key]
    else:
        val = data
        if sel:
            try: val = val[int(sel)]
            except (ValueError, IndexError, KeyError, TypeError): raise FigureError(f"{path.name}[{sel}]: no such item") from None
        for part in key.split('.'):
            try: val = val[int(part)] if isinstance(val, list) else val[part]
            except (ValueError, IndexError, KeyError, TypeError): raise FigureError(f"{path.name}: no key {key!r}") from None
    x = _num(val)
    if x is None: raise FigureError(f"{path.name} {key!r} = {val!r} is not a number")
    return x

def _eval(node):
    if isinstance(node, ast.Expression): return _eval(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)): return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS: return _OPS[type(node.op)](_eval(node.left), _eval(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS: return _OPS[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
        return float(_FUNCS[node.func.id](*[_eval(a) for a in node.args]))
    raise FigureError("the expression may only hold references, numbers, + - * /, parentheses and min/max/abs")

def evaluate(body, aliases, root=ROOT):
    "(value, format spec) of a marker body `EXPR ; SPEC`."
    if ';' not in body: raise FigureError("a marker needs '; <format spec>' after the expression, e.g. '; .2f'")
    expr, spec = body.rsplit(';', 1)
    vals = []
    def sub(m):
        vals.append(lookup(m['file'], m['sel'], m['key'].strip(), aliases, root, m['agg'])); return f'__v[{len(vals) - 1}]'
    py = REF.sub(sub, expr).strip()
    if not vals: raise FigureError("the expression reads no results file: write {FILE[SELECTOR]:KEY}")
    try: tree = ast.parse(py, mode='eval')
    except SyntaxError: raise FigureError(f"cannot parse the expression {expr.strip()!r}") from None
    tree = ast.Expression(_subst(tree.body, vals))
    try: return _eval(tree), spec.strip()
    except ZeroDivisionError: raise FigureError("division by zero") from None

def _subst(node, vals):
    "Replace __v[i] by the looked-up numbers."
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == '__v':
        return ast.Constant(vals[node.slice.value])
    for f, v in ast.iter_fields(node):
        if isinstance(v, ast.AST): setattr(node, f, _subst(v, vals))
        elif isinstance(v, list): setattr(node, f, [_subst(x, vals) if isinstance(x, ast.AST) else x for x in v])
    return node

def check_text(text, where, aliases=None, root=ROOT):
    "Problems (list of str) and the number of markers checked in one markdown text."
    aliases = dict(aliases or {}); aliases.update({m['name']: m['path'] for m in DEF.finditer(text)})
    problems, n = [], 0
    for m in MARK.finditer(text):
        n += 1
        quoted = NUM.search(text[max(0, m.start() - 40):m.start()])
        snippet = MARK.sub('', text[max(0, m.start() - 200):m.start()])[-50:].replace('\n', ' ')
        if not quoted:
            problems.append(f"{where}: a fig marker must follow a number directly (…{snippet!r})"); continue
        q = quoted.group().replace('\u2212', '-')
        try:
            val, spec = evaluate(m['body'], aliases, root)
            got = format(val, spec)
        except FigureError as e: problems.append(f"{where}: {q}: {e}"); continue
        except (ValueError, TypeError) as e: problems.append(f"{where}: {q}: bad format spec ({e})"); continue
        if got != q: problems.append(f"{where}: prose says {q} but the results file gives {got} (…{snippet!r})")
    for m in NOFIG.finditer(text):
        if m['kind'] not in NOFIG_KINDS:
            problems.append(f"{where}: nofig kind {m['kind']!r} unknown; use one of {', '.join(NOFIG_KINDS)}")
        elif not NUM.search(text[max(0, m.start() - 40):m.start()]):
            problems.append(f"{where}: a nofig marker must follow a number (…{text[max(0, m.start() - 50):m.start()]!r})")
    return problems, n

def markdown_of(path):
    "[(where, text)] for a notebook's markdown cells or a markdown file."
    path = Path(path)
    if path.suffix == '.ipynb':
        nb = json.loads(path.read_text())
        return [(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} cell {i}", ''.join(c['source']))
                for i, c in enumerate(nb['cells']) if c['cell_type'] == 'markdown']
    return [(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), path.read_text())]

def check_files(paths, root=ROOT):
    "All problems and the marker count over files."
    problems, n = [], 0
    for p in paths:
        parts = markdown_of(p)
        aliases = {m['name']: m['path'] for _, t in parts for m in DEF.finditer(t)}   # file-wide aliases
        for where, text in parts:
            pr, k = check_text(text, where, aliases, root); problems += pr; n += k
    return problems, n

UNIT = re.compile(r'(?<![\w.#/\-])(\d[\d,]*\.\d+|\d+)\s?(%|ms|µs|s\b|µJ|nJ|pJ|MiB|MB|×(?!\s?\d)|x less)')   # '128 × 128' is a size
def unmarked(paths):
    "Numbers with a unit in prose that carry no fig marker: (where, number + unit)."
    out = []
    for p in paths:
        for where, text in markdown_of(p):
            clean = re.sub(r'\$[^$]*\$', '', MARK.sub('<FIG>', NOFIG.sub('<FIG>', text)))
            for m in UNIT.finditer(clean):
                if not clean[m.end(1):].startswith('<FIG>'): out.append((where, m.group()))
    return out

def default_paths(root=ROOT):
    "Every notebook under nbs/, the results pages (nbs/results/*.md, nbs/bench/*.md) and README.md."
    nbs = Path(root) / 'nbs'
    return (sorted(p for p in nbs.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
            + sorted([*(nbs / 'results').glob('*.md'), *(nbs / 'bench').glob('*.md')]) + [Path(root) / 'README.md'])

if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    paths = [Path(a).resolve() for a in args] or default_paths()
    if '--unmarked' in sys.argv:
        for where, s in unmarked(paths): print(f"{where}: {s}")
        sys.exit(0)
    problems, n = check_files(paths)
    for p in problems: print('FIGURE MISMATCH', p)
    print(f"figures: {n} quoted figures checked against their results files in {len(paths)} files, {len(problems)} problems")
    sys.exit(1 if problems else 0)
