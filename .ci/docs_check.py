"""Open one preview page in headless Chromium and check that it renders like a docs page.

    python .ci/docs_preview.py --only 02_surrogate && python .ci/docs_check.py        # _preview/surrogate.html

Chromium loads the page with `--virtual-time-budget` (so MathJax runs) and `--dump-dom`; the check asserts that

* MathJax typeset the math: at least `--min-display` display equations as `mjx-container` elements, no MathJax
  errors, no TeX source left as plain text outside code blocks, and the known equation piece `--expect-math`
  (an identifier of the derivation, e.g. `forward`) inside a typeset equation;
* a matplotlib figure is on the page: an `<img>` with a PNG data URI that decodes to at least 100 x 80 pixels.

It also writes a screenshot (default `_preview/check_<page>.png`) and prints one PASS/FAIL line; exit status 1 on
FAIL, 2 if Chromium or the page is missing."""
import argparse, base64, os, re, shutil, struct, subprocess, sys
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def find_chromium() -> str|None:
    "The Chromium binary: $CHROMIUM, or chromium / chromium-browser / google-chrome on PATH."
    for c in (os.environ.get('CHROMIUM'), 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'):
        if c and shutil.which(c): return shutil.which(c)
    return None

def chromium(page:Path, *flags:str, budget_ms:int=20000, timeout:int=120) -> subprocess.CompletedProcess:
    exe = find_chromium()
    args = [exe, '--headless', '--disable-gpu', '--hide-scrollbars', '--no-first-run', '--disable-extensions',
            f'--virtual-time-budget={budget_ms}', *flags, page.resolve().as_uri()]
    if hasattr(os, 'geteuid') and os.geteuid() == 0: args.insert(1, '--no-sandbox')   # Chromium refuses root otherwise
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)

class _Dom(HTMLParser):
    "Collects: mjx-container elements (and their text), MathJax errors, <img> sources, visible text outside code/math."
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.math, self.imgs, self.errors, self.text = [], [], [], 0, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'img': self.imgs.append(a.get('src') or '')
        if tag == 'mjx-container': self.math.append({'display': a.get('display') == 'true', 'text': ''})
        if 'data-mjx-error' in a or tag == 'mjx-merror': self.errors += 1
        if tag not in ('img', 'br', 'hr', 'meta', 'link', 'input', 'path', 'use', 'rect'): self.stack.append(tag)
    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag: pass
    def handle_data(self, data):
        if 'mjx-container' in self.stack and self.math: self.math[-1]['text'] += data
        elif not {'script', 'style', 'pre', 'code', 'title'} & set(self.stack): self.text.append(data)

def png_size(uri:str) -> tuple[int, int]|None:
    "(width, height) of a PNG data URI, None if it is not one."
    m = re.match(r'data:image/png;base64,(.*)', uri, re.S)
    if not m: return None
    try: b = base64.b64decode(m[1].strip())
    except ValueError: return None
    if b[:8] != b'\x89PNG\r\n\x1a\n' or len(b) < 24: return None
    return struct.unpack('>II', b[16:24])

def check(page:Path, expect_math:str='forward', min_display:int=1, screenshot:Path|None=None) -> list[str]:
    "Problems found on `page` after Chromium rendered it (empty list: PASS)."
    r = chromium(page, '--dump-dom')
    if r.returncode != 0 or '<html' not in r.stdout: return [f"chromium --dump-dom failed (rc {r.returncode}): {r.stderr[-500:]}"]
    dom = _Dom(); dom.feed(r.stdout)
    problems = []
    disp = [m for m in dom.math if m['display']]
    if not dom.math: problems.append("no mjx-container elements: MathJax did not typeset the page (is the local MathJax there?)")
    elif len(disp) < min_display: problems.append(f"only {len(disp)} display equations typeset, expected >= {min_display}")
    if dom.errors: problems.append(f"{dom.errors} MathJax error element(s) (TeX that did not parse)")
    if expect_math and not any(expect_math in m['text'] for m in dom.math):
        problems.append(f"no typeset equation contains {expect_math!r}")
    text = ' '.join(dom.text)
    left = re.findall(r'\$\$.{0,40}|\\frac\{.{0,30}|\\begin\{.{0,30}', text)
    if left: problems.append(f"TeX left untypeset in the text: {left[:3]}")
    sizes = [s for s in map(png_size, dom.imgs) if s]
    if not any(w >= 100 and h >= 80 for w, h in sizes):
        problems.append(f"no PNG figure of at least 100x80 px (found {len(dom.imgs)} <img>, PNG sizes {sizes[:5]})")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        s = chromium(page, f'--screenshot={screenshot.resolve()}', '--window-size=1280,2400')
        if s.returncode != 0 or not screenshot.exists(): problems.append(f"screenshot failed: {s.stderr[-300:]}")
    check.summary = f"{len(dom.math)} typeset equations ({len(disp)} display), {len(sizes)} PNG figure(s) {sizes[:3]}"
    return problems

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('page', nargs='?', default='_preview/surrogate.html', help="rendered page (default _preview/surrogate.html)")
    ap.add_argument('--expect-math', default='forward', help="text that must appear inside a typeset equation")
    ap.add_argument('--min-display', type=int, default=1, help="minimum number of display equations")
    ap.add_argument('--screenshot', help="PNG to write (default: _preview/check_<page>.png next to the page)")
    a = ap.parse_args(argv)
    page = Path(a.page) if Path(a.page).is_absolute() else Path.cwd() / a.page
    if not page.exists():
        print(f"FAIL docs_check: {page} does not exist (build it with python .ci/docs_preview.py --only ...)"); return 2
    if not find_chromium():
        print("FAIL docs_check: no chromium on PATH (Debian: apt-get install chromium; or set $CHROMIUM)"); return 2
    shot = Path(a.screenshot) if a.screenshot else page.parent / f'check_{page.stem}.png'
    problems = check(page, a.expect_math, a.min_display, shot)
    if problems:
        print(f"FAIL docs_check {page.name}: " + '; '.join(problems)); return 1
    print(f"PASS docs_check {page.name}: {check.summary}; screenshot {shot}")
    return 0

if __name__ == '__main__': sys.exit(main())
