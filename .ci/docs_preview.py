"""Build an offline HTML preview of the docs into `_preview/` (Quarto cannot be installed here).

Each notebook under `nbs/` goes through nbdev 2.4.14's own docs processors (`nbdev.processors.FilterDefaults`:
front matter, `show_doc` cells added after exported definitions, `#| hide` and export cells removed, directives
stripped, doc links added, exported source folded) with one change: nbdev's `exec_show_docs` runs only the
imports, exports and `show_doc` cells, because nbdev expects committed outputs, while ours are committed
clean. It is replaced by `exec_cells`, which runs every cell that `nbdev_test` runs (not `slow`/`cuda`/`eval:
false`) in execnb's `CaptureShell`, so figures and printed results appear. nbconvert's `HTMLExporter` then
writes the page; math is typeset by MathJax 3 from a local copy (`_preview/mathjax/`, fetched once with
`npm pack mathjax@3.2.2`, or given with `--mathjax`), so the pages render offline.

    python .ci/docs_preview.py                      # every notebook (minutes)
    python .ci/docs_preview.py --only 02_surrogate explanations/tsslbp   # a subset
    python .ci/docs_preview.py --only surrogate --no-exec                # structure only, no execution

Pages are named as Quarto names them (`nbs/01_neurons.ipynb` -> `_preview/neurons.html`), so nbdev's doc links
resolve; `_preview/index.html` is `nbs/index.ipynb` and every page carries the sidebar of `nbs/sidebar.yml`.
Exit status 1 if a cell raised (the traceback is on the page and printed), 2 for bad arguments."""
import argparse, html, json, os, re, shutil, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATHJAX_VERSION = '3.2.2'
MATHJAX_FILE = 'tex-svg-full.js'      # one self-contained file: SVG output needs no web fonts
MATHJAX_CDN = f'https://cdn.jsdelivr.net/npm/mathjax@{MATHJAX_VERSION}/es5/{MATHJAX_FILE}'

# ---------------------------------------------------------------------------------------------- notebooks
def _cfg():
    from nbdev.config import get_config
    return get_config(path=ROOT)

def page_of(nb:Path) -> Path:
    "Output page of a notebook, relative to the output folder: Quarto's name (numeric prefix dropped)."
    from nbdev.doclinks import _nbpath2html
    return _nbpath2html(nb.relative_to(_cfg().nbs_path))

def all_notebooks() -> list[Path]:
    from nbdev.doclinks import nbglob
    return sorted(Path(p).resolve() for p in nbglob(path=_cfg().nbs_path, as_path=True))

def select(nbs:list[Path], names:list[str]) -> list[Path]:
    "Notebooks matching any of `names`: a path relative to nbs/ (with or without .ipynb), a stem, or a page name."
    nbs_path = _cfg().nbs_path
    keys = {nb: {str(nb.relative_to(nbs_path)), str(nb.relative_to(nbs_path).with_suffix('')), nb.stem,
                 str(page_of(nb).with_suffix('')), page_of(nb).stem, page_of(nb).name} for nb in nbs}
    out, missing = [], []
    for n in names:
        n = n.removeprefix('nbs/')
        hit = [nb for nb in nbs if n in keys[nb]]
        if not hit: missing.append(n)
        out += [nb for nb in hit if nb not in out]
    if missing:
        print(f"docs_preview: no notebook matches {missing}; notebooks are: "
              + ', '.join(str(nb.relative_to(nbs_path).with_suffix('')) for nb in nbs), file=sys.stderr)
        sys.exit(2)
    return out

def nb_title(nb:Path) -> str:
    "The notebook's title (its first `# ` heading), as nbdev's front matter reads it."
    from nbdev.frontmatter import _md2dict
    try: cells = json.loads(nb.read_text())['cells']
    except (OSError, ValueError, KeyError): return nb.stem
    for c in cells:
        if c['cell_type'] == 'markdown':
            t = _md2dict(''.join(c['source'])).get('title')
            if t: return t
    return nb.stem

# ---------------------------------------------------------------------------------------------- sidebar
def sidebar_entries():
    "[(sections, notebook path relative to nbs/)] in the order of nbs/sidebar.yml; `sections` is the tuple of nested section names."
    import yaml
    f = _cfg().nbs_path / 'sidebar.yml'
    if not f.exists(): return []
    out = []
    def walk(items, sections):
        for it in items or []:
            if isinstance(it, str): out.append((sections, it))
            elif isinstance(it, dict) and 'contents' in it: walk(it['contents'], sections + (it.get('section', ''),))
            elif isinstance(it, dict) and 'href' in it: out.append((sections, it['href']))
    walk(yaml.safe_load(f.read_text())['website']['sidebar']['contents'], ())
    return out

def sidebar_html(current:Path|None, nbs:list[Path]) -> str:
    "Sidebar for the page `current` (relative links), listing notebooks not in sidebar.yml under 'Other'."
    nbs_path = _cfg().nbs_path
    up = '../' * (len(current.parent.parts) if current else 0)
    entries = sidebar_entries()
    listed = {(nbs_path / e).resolve() for _, e in entries}
    entries += [(('Other',), str(nb.relative_to(nbs_path))) for nb in nbs if nb not in listed]
    parts, shown = [f'<a class="preview-home" href="{up}index.html">{html.escape(_cfg().title)}</a>', '<ul>'], ()
    for secs, rel in entries:
        if secs != shown:
            common = 0
            while common < min(len(secs), len(shown)) and secs[common] == shown[common]: common += 1
            parts.append('</ul>')
            for lvl in range(common, len(secs)):
                parts.append(f'<div class="preview-section preview-level{lvl}">{html.escape(secs[lvl])}</div>')
            parts.append('<ul>'); shown = secs
        nb = nbs_path / rel
        page = page_of(nb) if nb.exists() else Path(rel).with_suffix('.html')
        cls = ' class="active"' if current is not None and page == current else ''
        label = nb_title(nb) if nb.exists() else Path(rel).stem + ' (not in this checkout)'
        parts.append(f'<li><a{cls} href="{up}{page.as_posix()}">{html.escape(label)}</a></li>')
    parts.append('</ul>')
    return '\n'.join(p for i, p in enumerate(parts) if not (p == '<ul>' and i + 1 < len(parts) and parts[i + 1] == '</ul>')
                      and not (p == '</ul>' and i > 0 and parts[i - 1] == '<ul>'))

# ---------------------------------------------------------------------------------------------- processing
def _exec_proc(skip_flags, run:bool, errors:list):
    "A Processor that runs what nbdev_test runs, in place of nbdev's exec_show_docs."
    from execnb.shell import CaptureShell
    from nbdev.process import Processor
    class exec_cells(Processor):
        def begin(self):
            self.k = CaptureShell(self.nb.path_) if run else None
            if self.k: self.k.run_cell('from nbdev.showdoc import show_doc')
        def __call__(self, cell):
            if cell.cell_type != 'code' or not cell.source: return
            d = getattr(cell, 'directives_', {}) or {}
            flag = next((f for f in skip_flags if f in d), None)
            if d.get('eval:', [''])[0].lower() == 'false': flag = 'eval: false'
            if 'nbdev_export' + '(' in cell.source: flag = 'nbdev_export'
            if flag or self.k is None:
                cell.metadata['preview_skipped'] = flag or 'no-exec'; return
            self.k.cell(cell)
            if self.k.exc is not None:
                errors.append(f"cell {cell.idx_}: {type(self.k.exc).__name__}: {self.k.exc}\n{cell.source}")
                self.k.exc = None
    return exec_cells

_re_quarto_opt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def _to_nbformat(nb, doc_url:str, page:Path, pages:dict):
    "Processed execnb notebook -> nbformat v4 node; Quarto cell options and front matter translated."
    import nbformat, yaml
    from execnb.nbio import nb2dict
    d = nb2dict(nb)
    up = '../' * len(page.parent.parts)
    cells = []
    for c in d['cells']:
        md = c.setdefault('metadata', {})
        c.pop('id', None)
        if isinstance(c.get('source'), list): c['source'] = ''.join(c['source'])
        if c['cell_type'] == 'raw' and c['source'].startswith('---'):      # front matter -> title + lead
            fm = yaml.safe_load(c['source'].strip().strip('-')) or {}
            d['metadata']['title'] = fm.get('title', page.stem)
            src = f"# {fm.get('title', page.stem)}"
            if fm.get('description'): src += f"\n\n> {fm['description']}"
            cells.append(dict(cell_type='markdown', metadata={'tags': ['preview-title']}, source=src)); continue
        if c['cell_type'] == 'code':
            lines = c['source'].split('\n'); opts = {}
            while lines and (m := _re_quarto_opt.match(lines[0])): opts[m[1]] = m[2].strip('"\''); lines.pop(0)
            c['source'] = '\n'.join(lines).strip('\n')
            if opts.get('include') == 'false': continue
            tags = md.setdefault('tags', [])
            if opts.get('echo') == 'false' or not c['source']: tags.append('preview-no-input')
            if opts.get('output') == 'false': c['outputs'] = []
            if 'code-fold' in opts: tags.append('preview-fold'); md['preview_summary'] = opts.get('code-summary', 'Code')
            c.setdefault('outputs', []); c.setdefault('execution_count', None)
            skipped = md.pop('preview_skipped', None)
            if skipped and skipped != 'no-exec': tags.append('preview-skipped'); md['preview_skip_reason'] = skipped
            for o in c['outputs']:
                o.setdefault('metadata', {})
                if o['output_type'] == 'execute_result': o.setdefault('execution_count', None)
        if c['cell_type'] == 'markdown': c['source'] = _fix_links(c['source'], doc_url, up, pages, str(page.parent))
        for o in c.get('outputs', []):
            if 'text/markdown' in o.get('data', {}):
                o['data']['text/markdown'] = _fix_links(''.join(o['data']['text/markdown']), doc_url, up, pages, str(page.parent))
        cells.append(c)
    d['cells'] = cells
    d['nbformat'], d['nbformat_minor'] = 4, 4
    return nbformat.reads(json.dumps(d), as_version=4)

_re_attr_link = re.compile(r'\[([^\]]+)\]\(([^)\s]+)\)\{([^}]*)\}')

def _attr_link(m):
    "Pandoc/Quarto `[text](url){attrs}` (show_doc's source link) -> an HTML link that markdown passes through."
    attrs = ' '.join(a for a in re.findall(r'[\w-]+="[^"]*"', m[3]))
    return f'<a href="{html.escape(m[2])}" {attrs}>{m[1]}</a>'

def _fix_links(s:str, doc_url:str, up:str, pages:dict, nb_dir:str='.') -> str:
    "Doc-site links and links to notebooks -> relative links between preview pages."
    s = _re_attr_link.sub(_attr_link, s.replace(doc_url, up))
    def nb_link(m):
        target = os.path.normpath(os.path.join(nb_dir, m[2] + '.ipynb'))     # relative to nbs/
        page = pages.get(target)
        return f'{m[1]}{up}{page.as_posix()}{m[3] or ""})' if page else m[0]
    return re.sub(r'(\]\()(?!https?:)([^)#\s]+)\.ipynb(#[^)\s]*)?\)', nb_link, s)

# ---------------------------------------------------------------------------------------------- HTML
_TEMPLATE = r"""
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
                        processEscapes: true, processEnvironments: true, tags: 'ams'},
                  svg: {fontCache: 'global'}, options: {ignoreHtmlClass: 'tex2jax_ignore'}};
</script>
<script id="MathJax-script" async src="{{ resources.mathjax_url }}"></script>
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<style>
body.jp-Notebook { display: flex; margin: 0; padding: 0; }
nav.preview-sidebar { flex: 0 0 15rem; height: 100vh; position: sticky; top: 0; overflow-y: auto;
  box-sizing: border-box; padding: 1rem 0.8rem; border-right: 1px solid #ddd; background: #f8f9fa;
  font-family: system-ui, sans-serif; font-size: 0.9rem; }
nav.preview-sidebar ul { list-style: none; padding-left: 0.4rem; margin: 0.2rem 0 0.8rem; }
nav.preview-sidebar li { margin: 0.25rem 0; }
nav.preview-sidebar a { color: #2a5db0; text-decoration: none; }
nav.preview-sidebar a.active { font-weight: bold; color: #111; }
.preview-home { font-size: 1.25rem; font-weight: bold; display: block; margin-bottom: 0.8rem; }
.preview-section { font-weight: 600; color: #555; margin-top: 0.6rem; font-size: 0.8rem; }
.preview-level0 { text-transform: uppercase; font-size: 0.75rem; color: #333; margin-top: 1rem; }
.preview-level1 { padding-left: 0.4rem; }
main.preview-main { flex: 1 1 auto; max-width: 60rem; padding: 1rem 2rem 4rem; min-width: 0; }
.preview-title blockquote { border-left: none; color: #555; font-size: 1.15rem; margin: 0 0 1rem; padding: 0; }
.jp-RenderedHTMLCommon table { font-size: 0.9em; }
details.preview-fold > summary { cursor: pointer; color: #666; font-size: 0.85em; margin: 0.3rem 0; }
.preview-skip-note { color: #8a6d3b; font-size: 0.8em; margin: 0.2rem 0 0.6rem 0.5rem; }
.preview-error-banner { background: #fdecea; border: 1px solid #f5c2c0; padding: 0.6rem 1rem; margin-bottom: 1rem; }
</style>
{%- endblock html_head_css -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<nav class="preview-sidebar">{{ resources.preview_sidebar }}</nav>
<main class="preview-main">
{%- if resources.preview_errors %}<div class="preview-error-banner">{{ resources.preview_errors }} cell(s) raised while
building this preview; their tracebacks are shown below.</div>{% endif -%}
{%- endblock body_header -%}
{% block input_group -%}
{%- if 'preview-fold' in cell.metadata.get('tags', []) -%}
<details class="preview-fold"><summary>{{ cell.metadata.get('preview_summary', 'Code') }}</summary>{{ super() }}</details>
{%- else -%}{{ super() }}{%- endif -%}
{%- if 'preview-skipped' in cell.metadata.get('tags', []) -%}
<div class="preview-skip-note">not run for the preview (<code>{{ cell.metadata.get('preview_skip_reason') }}</code>)</div>
{%- endif -%}
{% endblock input_group %}
"""

def exporter(mathjax_url:str):
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.remove_input_tags = {'preview-no-input'}
    c.TagRemovePreprocessor.enabled = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.mathjax_url = mathjax_url
    return HTMLExporter(config=c, template_name='lab', template_file='preview.html.j2',
                        extra_loaders=[DictLoader({'preview.html.j2': _TEMPLATE})])

def ensure_mathjax(out:Path, given:str|None) -> str:
    "Path of the local MathJax 3 file relative to `out` (copied or fetched once), or the CDN URL as a last resort."
    dst = out / 'mathjax' / MATHJAX_FILE
    if dst.exists() and not given: return f'mathjax/{MATHJAX_FILE}'
    dst.parent.mkdir(parents=True, exist_ok=True)
    src = given or os.environ.get('HRMAS_MATHJAX')
    if src:
        p = Path(src)
        cands = [p, p / MATHJAX_FILE, p / 'es5' / MATHJAX_FILE, p / 'package' / 'es5' / MATHJAX_FILE]
        hit = next((c for c in cands if c.is_file()), None)
        if hit is None:
            print(f"docs_preview: --mathjax {src}: no {MATHJAX_FILE} there (give the file, or a mathjax@3 package folder)", file=sys.stderr)
            sys.exit(2)
        shutil.copyfile(hit, dst); return f'mathjax/{MATHJAX_FILE}'
    if shutil.which('npm'):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                r = subprocess.run(['npm', 'pack', f'mathjax@{MATHJAX_VERSION}', '--silent'], cwd=tmp, capture_output=True,
                                   text=True, timeout=300)
                tgz = Path(tmp) / r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else None
                if tgz and tgz.exists():
                    with tarfile.open(tgz) as t:
                        f = t.extractfile(f'package/es5/{MATHJAX_FILE}')
                        dst.write_bytes(f.read())
                    print(f"docs_preview: MathJax {MATHJAX_VERSION} copied to {dst} (npm pack)")
                    return f'mathjax/{MATHJAX_FILE}'
                print(f"docs_preview: npm pack mathjax failed: {r.stderr.strip()[-300:]}", file=sys.stderr)
            except (subprocess.TimeoutExpired, KeyError, OSError) as e: print(f"docs_preview: npm pack mathjax failed: {e}", file=sys.stderr)
    print(f"docs_preview: WARNING no local MathJax (no npm, no --mathjax): pages load it from {MATHJAX_CDN}, "
          "so math renders only online", file=sys.stderr)
    return MATHJAX_CDN

def build_one(nb:Path, out:Path, run:bool, mathjax:str, nbs:list[Path]) -> dict:
    "Process, execute and render one notebook; return a summary."
    sys.path.insert(0, str(ROOT))                   # the package of this checkout, as nbdev_test's basepath
    os.environ['IN_TEST'] = '1'                     # as nbdev sets while processing docs
    from execnb.nbio import read_nb
    from fastcore.xtras import working_directory
    from nbdev.processors import FilterDefaults, exec_show_docs
    cfg = _cfg()
    t0 = time.time()
    page = page_of(nb)
    errors = []
    procs = [(_exec_proc(cfg.tst_flags.split(), run, errors) if p is exec_show_docs else p) for p in FilterDefaults().procs()]
    nbd = read_nb(nb)
    with working_directory(nb.parent):
        from nbdev.process import NBProcessor
        NBProcessor(nb=nbd, procs=procs).process()
    pages = {str(p.relative_to(cfg.nbs_path)): page_of(p) for p in nbs}
    node = _to_nbformat(nbd, f"{cfg.doc_host}{cfg.doc_baseurl}/", page, pages)
    up = '../' * len(page.parent.parts)
    mj = mathjax if mathjax.startswith('http') else up + mathjax
    body, _ = exporter(mj).from_notebook_node(node, resources={'preview_sidebar': sidebar_html(page, nbs),
                                                            'preview_errors': len(errors)})
    dst = out / page
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(body)
    n_run = sum(1 for c in node.cells if c.cell_type == 'code' and c.get('outputs'))
    return dict(nb=str(nb.relative_to(cfg.nbs_path)), page=os.path.relpath(dst, ROOT), secs=time.time() - t0,
                errors=errors, cells_with_output=n_run)

def _worker(args):
    try: return build_one(*args)
    except Exception as e:
        import traceback
        return dict(nb=str(args[0].relative_to(_cfg().nbs_path)), page=None, secs=0., errors=[f"build failed: {traceback.format_exc()}"], cells_with_output=0)

def write_list_page(out:Path, nbs:list[Path]):
    "`pages.html`: every page in sidebar order (and `index.html` when nbs/index.ipynb was not built)."
    items = sidebar_html(None, nbs)
    doc = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(_cfg().title)} docs preview</title>'
           f'<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}}'
           f'.preview-section{{font-weight:600;margin-top:1rem}}</style></head><body>{items}</body></html>\n')
    (out / 'pages.html').write_text(doc)
    if not (out / 'index.html').exists(): (out / 'index.html').write_text(doc)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--only', nargs='+', metavar='NAME', help="build only these notebooks (e.g. 02_surrogate, surrogate, explanations/tsslbp)")
    ap.add_argument('--out', default='_preview', help="output folder, relative to the repository root (default _preview)")
    ap.add_argument('--no-exec', action='store_true', help="do not execute cells (pages without outputs; fast)")
    ap.add_argument('--mathjax', help=f"a local MathJax 3 {MATHJAX_FILE} or mathjax package folder (default: npm pack, cached in OUT/mathjax)")
    ap.add_argument('--n_workers', type=int, default=min(2, os.cpu_count() or 1), help="notebooks built in parallel (default 2)")
    a = ap.parse_args(argv)
    os.chdir(ROOT)
    for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'): os.environ.setdefault(k, '1')
    out = (ROOT / a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    nbs = all_notebooks()
    todo = select(nbs, a.only) if a.only else nbs
    mathjax = ensure_mathjax(out, a.mathjax)
    jobs = [(nb, out, not a.no_exec, mathjax, nbs) for nb in todo]
    t0 = time.time()
    if a.n_workers <= 1 or len(jobs) == 1: results = map(_worker, jobs)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        ex = ProcessPoolExecutor(max_workers=a.n_workers, mp_context=mp.get_context('spawn'), max_tasks_per_child=1)
        results = ex.map(_worker, jobs)
    failed = []
    for r in results:
        status = 'FAILED' if r['errors'] else 'ok'
        print(f"{status:6s} {r['nb']:38s} -> {r['page']}  ({r['secs']:.1f} s, {r['cells_with_output']} cells with output)", flush=True)
        for e in r['errors']: print('    ' + e.replace('\n', '\n    '), file=sys.stderr)
        if r['errors']: failed.append(r['nb'])
    write_list_page(out, nbs)
    print(f"docs_preview: {len(jobs) - len(failed)} of {len(jobs)} pages built without errors in {time.time() - t0:.0f} s; "
          f"open {out / 'index.html'}")
    if failed: print(f"docs_preview: FAILED (a cell raised or the build failed) in {failed}", file=sys.stderr); return 1
    return 0

if __name__ == '__main__': sys.exit(main())
