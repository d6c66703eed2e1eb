"""Check the portable C kernels on ARM64 (aarch64, NEON by GCC's auto-vectorisation) against the x86-64 portable build.

    nice -n 19 taskset -c 1 python .ci/arm_check.py --out nbs/bench/arm_check.txt

Writes `hrmas.kernels.read_c_source()` plus a small C harness to a temp dir. The harness builds deterministic inputs
with its own xorshift PRNG and calls the float32 entry points single-threaded (no OpenMP): lif_forward (recurrent
and feed-forward), lif_backward (mode 0 TSSL-BP with quiet bits, mode 1 BPTT), lif_wgrad (+ its transposition),
sparse_linear (+ wgrad), the spike_linear functions of `SpikeListLinear` (forward and weight gradient),
alif_forward, alif_backward and alif_wgrad, and writes every output as raw records to a file. It is compiled with
the package's flags (`_FLAGS` minus -shared -fPIC) twice: `-march=x86-64 -mtune=generic` (run natively) and
`aarch64-linux-gnu-gcc -march=armv8-a -static` (run under qemu-aarch64-static); a third x86 build with
-fsanitize=undefined,address looks for undefined behaviour. Every array is compared: exact-equal count, max abs,
max relative difference and max ulps; integer outputs (spikes, quiet bits, spike lists) must be identical.
Exit 1 if spikes differ or a float differs by more than 4 ulps (relative 4 eps); exit 0 with 'skipped: ...'
when the cross compiler or qemu is missing. The aarch64 vectorisation is shown by -fopt-info-vec-optimized
(vectorised loops) and by the count of NEON vector instructions per kernel function in objdump."""
import argparse, datetime, os, re, shutil, struct, subprocess, sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # the repository's hrmas, not an installed one
import torch
from hrmas import kernels

CROSS, QEMU, OBJDUMP = 'aarch64-linux-gnu-gcc', 'qemu-aarch64-static', 'aarch64-linux-gnu-objdump'
FLAGS = [f for f in kernels._FLAGS if f not in ('-shared', '-fPIC')]

# Multi-Gaussian surrogate constants (c0, k0, c1, k1, sigma) from the defaults of `multi_gaussian_grad`.
sg, h, s_, g_, r_ = 0.5, 0.15, 6.0, 0.5, (2 * torch.pi) ** 0.5
MG = [g_ * (1 + h) / (r_ * sg), 1 / (2 * sg ** 2), g_ * h / (r_ * s_ * sg), 1 / (2 * (s_ * sg) ** 2), sg]

HARNESS = r'''
/* ---------------- arm_check harness (appended to the kernels' translation unit) ---------------- */
#include <stdio.h>
enum { T = 20, B = 3, N = 37, K = 29, NO = 71 };            /* odd sizes: vector tails everywhere */
static uint32_t rs = 2463534242u;                           /* xorshift32: the same stream on every platform */
static uint32_t xs32(void) { rs ^= rs << 13; rs ^= rs >> 17; rs ^= rs << 5; return rs; }
static float unif(float lo, float hi) { return lo + (hi - lo) * ((float)(xs32() >> 8) * (1.0f / 16777216.0f)); }
static void* al(int64_t n, size_t sz) { void* p = calloc((size_t)n, sz); if (!p) { fprintf(stderr, "oom\n"); exit(2); } return p; }
static float* fa(int64_t n) { return (float*)al(n, sizeof(float)); }
static float* fr(int64_t n, float lo, float hi) { float* p = fa(n); for (int64_t i = 0; i < n; ++i) p[i] = unif(lo, hi); return p; }
static FILE* fo;
static void dump(const char* name, char ty, const void* p, int64_t n) {   /* record: name[32], type, count, data */
    char nm[32] = {0}; strncpy(nm, name, 31);
    const size_t sz = ty == 'd' || ty == 'l' ? 8 : ty == 'u' ? 1 : 4;
    fwrite(nm, 1, 32, fo); fputc(ty, fo); fwrite(&n, 8, 1, fo); fwrite(p, sz, (size_t)n, fo);
}
static void ck(int rc, const char* what) { if (rc) { fprintf(stderr, "%s returned %d\n", what, rc); exit(3); } }
int main(int argc, char** argv) {
    if (argc < 2 || !(fo = fopen(argv[1], "wb"))) return 4;
    const int64_t TBN = T * B * N, NQ = (N + 7) / 8, R = T * B;
    const float lam_s = 0.8f, gain = 0.2f, thr = 1.0f, qthr = 0.05f;
    /* ---- LIF ---- */
    float *x = fr(TBN, -0.3f, 0.9f), *k = fa(N), *lam_m = fa(N), *inv_tau = fa(N);
    for (int i = 0; i < N; ++i) { lam_m[i] = unif(0.75f, 0.95f); k[i] = unif(0.8f, 1.2f); inv_tau[i] = 1.0f - lam_m[i]; }
    float *rec = fr(N * N, -0.3f, 0.3f), *W = fr(N * N, -0.3f, 0.3f);
    float *u = fa(TBN), *s = fa(TBN), *a = fa(TBN), *dl = fa(TBN); uint8_t* q = (uint8_t*)al(T * B * NQ, 1);
    ck(lif_forward_f32(x, k, rec, lam_m, lam_s, gain, thr, T, B, N, 0, B, u, s, a, dl, qthr, q), "lif_forward");
    dump("lif_fwd.u", 'f', u, TBN); dump("lif_fwd.s", 'f', s, TBN); dump("lif_fwd.a", 'f', a, TBN);
    dump("lif_fwd.delta", 'f', dl, TBN); dump("lif_fwd.q", 'u', q, T * B * NQ);
    float *u2 = fa(TBN), *s2 = fa(TBN), *a2 = fa(TBN); uint8_t* q2 = (uint8_t*)al(T * B * NQ, 1);
    ck(lif_forward_f32(x, k, NULL, lam_m, lam_s, gain, thr, T, B, N, 0, B, u2, s2, a2, NULL, qthr, q2), "lif_forward ff");
    dump("lif_fwd_ff.u", 'f', u2, TBN); dump("lif_fwd_ff.s", 'f', s2, TBN); dump("lif_fwd_ff.a", 'f', a2, TBN); dump("lif_fwd_ff.q", 'u', q2, T * B * NQ);
    float *ga = fr(TBN, -1, 1), *gs = fr(TBN, -1, 1), *gu = fr(TBN, -1, 1), *gs1 = fr(N, -1, 1), *sgr = fr(TBN, 0, 1);
    float *ke0 = fa(TBN), *ke1 = fa(TBN), *ke2 = fa(TBN);
    /* TSSL-BP, quiet bits, dL/ds broadcast over (t, b) by strides 0, W given, the sigmoid computed inside */
    ck(lif_backward_f32(0, ga, B * N, N, gs1, 0, 0, NULL, 0, 0, u, s, q, NULL, W, k, inv_tau, lam_m, lam_s, gain, thr,
                        5.0f, 0.5f, 0, 0, T, B, N, 0, B, ke0), "lif_backward mode 0");
    dump("lif_bwd_tssl.ke", 'f', ke0, TBN);
    /* BPTT with dL/da, dL/ds, dL/du, W given; then feed-forward with a given surrogate and detached reset */
    ck(lif_backward_f32(1, ga, B * N, N, gs, B * N, N, gu, B * N, N, u, s, NULL, NULL, W, k, inv_tau, lam_m, lam_s, gain, thr,
                        5.0f, 0.5f, 0, 0, T, B, N, 0, B, ke1), "lif_backward mode 1");
    dump("lif_bwd_bptt.ke", 'f', ke1, TBN);
    ck(lif_backward_f32(1, ga, B * N, N, gs, B * N, N, NULL, 0, 0, u2, s2, NULL, sgr, NULL, k, inv_tau, lam_m, lam_s, gain, thr,
                        5.0f, 0.5f, 0, 1, T, B, N, 0, B, ke2), "lif_backward mode 1 ff");
    dump("lif_bwd_bptt_ff.ke", 'f', ke2, TBN);
    float* dwt = fa(N * N);
    ck(lif_wgrad_f32(ke0, s, lam_s, T, B, N, 0, N, dwt), "lif_wgrad"); dump("lif_wgrad.dwt", 'f', dwt, N * N);
    lif_wgrad_tr_f32(dwt, N, gain, 0, (N + 31) / 32); dump("lif_wgrad_tr.dW", 'f', dwt, N * N);
    /* ---- input projection: sparse input [R, K] (20 % non-zero, some not 0/1), W [NO, K] ---- */
    float *xs = fa(R * K), *Wl = fr(NO * K, -1, 1), *wt = fa(K * NO), *gl = fr(R * NO, -1, 1);
    for (int64_t i = 0; i < R * K; ++i) { const float z = unif(0, 1); xs[i] = z < 0.15f ? 1.0f : z < 0.2f ? unif(-2, 2) : 0.0f; }
    for (int o = 0; o < NO; ++o) for (int j = 0; j < K; ++j) wt[j * NO + o] = Wl[o * K + j];
    float *ol = fa(R * NO), *dwl = fa(K * NO);
    sparse_linear_f32(xs, wt, K, NO, 0, R, ol); dump("sparse_linear.out", 'f', ol, R * NO);
    sparse_linear_wgrad_f32(xs, gl, R, K, NO, 0, K, dwl); dump("sparse_linear_wgrad.dwt", 'f', dwl, K * NO);
    /* SpikeListLinear: row lists, packed W^T, forward; column lists, weight gradient dW [NO, K] (transposed out) */
    int64_t* ptr = (int64_t*)al(R + 1, 8);
    spike_row_count_f32(xs, K, 0, R, ptr + 1); for (int64_t r = 0; r < R; ++r) ptr[r + 1] += ptr[r];
    const int64_t nnz = ptr[R], nbk = spike_block_f32(), nblk = (NO + nbk - 1) / nbk;
    int32_t* idx = (int32_t*)al(nnz + 1, 4); float* val = fa(nnz + 1);   /* one spare slot, as _spike_lists */
    spike_row_fill_f32(xs, K, 0, R, ptr, idx, val);
    dump("spike_lists.ptr", 'l', ptr, R + 1); dump("spike_lists.idx", 'i', idx, nnz); dump("spike_lists.val", 'f', val, nnz);
    float *wp = fa(nblk * K * nbk), *osp = fa(R * NO);
    spike_pack_f32(Wl, K, NO, 0, nblk, wp);
    ck(spike_linear_f32(ptr, idx, val, wp, 1, K, NO, 0, R, 0, osp), "spike_linear"); dump("spike_linear.out", 'f', osp, R * NO);
    int64_t* cptr = (int64_t*)al(K + 1, 8); int32_t* cidx = (int32_t*)al(nnz + 1, 4); float *cval = fa(nnz + 1), *dWs = fa(NO * K);
    ck(spike_transpose_f32(ptr, idx, val, R, K, cptr, cidx, cval), "spike_transpose");
    dump("spike_cols.cptr", 'l', cptr, K + 1); dump("spike_cols.cidx", 'i', cidx, nnz);
    ck(spike_linear_f32(cptr, cidx, cval, gl, 0, R, NO, 0, K, K, dWs), "spike_linear wgrad"); dump("spike_linear_wgrad.dW", 'f', dWs, NO * K);
    /* ---- ALIF: adaptive and recurrent; then plain (beta = 0) ---- */
    float *X = fr(TBN, -0.5f, 1.5f), *alpha = fa(N), *rho = fa(N), *oma = fa(N), *omr = fa(N);
    for (int i = 0; i < N; ++i) { alpha[i] = unif(0.8f, 0.95f); rho[i] = unif(0.9f, 0.99f); oma[i] = 1 - alpha[i]; omr[i] = 1 - rho[i]; }
    float *cw = fr(N * N, -0.1f, 0.1f), *cwt = fa(N * N), *u0 = fr(B * N, -0.2f, 0.2f), *s0 = fr(B * N, 0, 1), *bs0 = fr(B * N, 0, 0.1f);
    for (int i = 0; i < N; ++i) for (int j = 0; j < N; ++j) cwt[j * N + i] = cw[i * N + j];
    const float b0 = 0.3f, beta = 1.8f; const double mg[5] = {@MG@};
    float *U = fa(TBN), *S = fa(TBN), *TH = fa(TBN), *Bo = fa(TBN);
    ck(alif_forward_f32(X, oma, cw, alpha, rho, u0, s0, bs0, b0, beta, T, B, N, 0, B, U, S, TH, Bo), "alif_forward");
    dump("alif_fwd.U", 'f', U, TBN); dump("alif_fwd.S", 'f', S, TBN); dump("alif_fwd.TH", 'f', TH, TBN); dump("alif_fwd.B", 'f', Bo, TBN);
    float *U2 = fa(TBN), *S2 = fa(TBN), *TH2 = fa(TBN);
    ck(alif_forward_f32(X, oma, cw, alpha, rho, u0, s0, bs0, b0, 0, T, B, N, 0, B, U2, S2, TH2, NULL), "alif_forward plain");
    dump("alif_fwd_plain.U", 'f', U2, TBN); dump("alif_fwd_plain.S", 'f', S2, TBN); dump("alif_fwd_plain.TH", 'f', TH2, TBN);
    float *gS = fr(TBN, -1, 1), *gU = fr(TBN, -1, 1), *gth = fr(N, -0.5f, 0.5f), *psi = fr(TBN, 0, 1);
    float *GU = fa(TBN), *GI = fa(TBN), *cu = fa(B * N), *cs = fa(B * N), *cb = fa(B * N);
    double *gad = (double*)al(N, 8), *grd = (double*)al(N, 8);
    /* adaptive, multi-Gaussian surrogate computed inside (psi NULL), dL/dtheta broadcast by strides 0, no truncation */
    ck(alif_backward_f32(gS, B * N, N, gU, B * N, N, gth, 0, 0, NULL, U, S, TH, Bo, X, oma, u0, s0, bs0, cwt, alpha, rho, omr, mg,
                         b0, beta, 1, 0, T, B, N, 0, B, GU, GI, cu, cs, cb, gad, grd), "alif_backward");
    dump("alif_bwd.GU", 'f', GU, TBN); dump("alif_bwd.GI", 'f', GI, TBN); dump("alif_bwd.cu", 'f', cu, B * N);
    dump("alif_bwd.cs", 'f', cs, B * N); dump("alif_bwd.cb", 'f', cb, B * N); dump("alif_bwd.g_alpha", 'd', gad, N); dump("alif_bwd.g_rho", 'd', grd, N);
    float* gw = fa(N * N); alif_wgrad_f32(S, s0, GU, T, B, N, 0, N, gw); dump("alif_wgrad.g", 'f', gw, N * N);
    /* plain, a given surrogate psi, truncated BPTT every 6 steps */
    float *GU2 = fa(TBN), *GI2 = fa(TBN); double* gad2 = (double*)al(N, 8);
    ck(alif_backward_f32(gS, B * N, N, gU, B * N, N, gth, 0, 0, psi, U2, S2, TH2, U2, X, oma, u0, s0, bs0, cwt, alpha, rho, omr, mg,
                         b0, 0, 0, 6, T, B, N, 0, B, GU2, GI2, cu, cs, cb, gad2, grd), "alif_backward plain");
    dump("alif_bwd_plain.GU", 'f', GU2, TBN); dump("alif_bwd_plain.GI", 'f', GI2, TBN); dump("alif_bwd_plain.cu", 'f', cu, B * N);
    dump("alif_bwd_plain.cs", 'f', cs, B * N); dump("alif_bwd_plain.g_alpha", 'd', gad2, N);
    fclose(fo); return 0;
}
'''.replace('@MG@', ', '.join(repr(float(m)) for m in MG))

def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)

def version(tool):
    return sh([tool, '--version']).stdout.splitlines()[0]

def read_records(path):
    "The harness's records: {name: 1-d tensor} (types f float32, d float64, u uint8, i int32, l int64)."
    data, out, o = Path(path).read_bytes(), {}, 0
    dts = {'f': torch.float32, 'd': torch.float64, 'u': torch.uint8, 'i': torch.int32, 'l': torch.int64}
    while o < len(data):
        name = data[o:o + 32].split(b'\0')[0].decode(); ty = chr(data[o + 32]); n, = struct.unpack('<q', data[o + 33:o + 41])
        dt = dts[ty]; nb = n * torch.empty(0, dtype=dt).element_size(); o += 41
        out[name] = torch.frombuffer(bytearray(data[o:o + nb]), dtype=dt) if nb else torch.empty(0, dtype=dt); o += nb
    return out

def ordered(t):
    "Floats as integers in the order of their values (ulp distance = integer distance)."
    i = t.view(torch.int32 if t.dtype == torch.float32 else torch.int64).to(torch.int64)
    return torch.where(i < 0, -(i & 0x7FFFFFFFFFFFFFFF if t.dtype == torch.float64 else i & 0x7FFFFFFF), i)

def compare(ref, oth):
    "Rows (name, n, equal, max abs, max rel, max ulps, ok): ref = x86-64 portable, oth = the other build."
    rows = []
    for name, a in ref.items():
        b = oth.get(name)
        if b is None or b.shape != a.shape: rows.append((name, a.numel(), 0, float('inf'), float('inf'), -1, False)); continue
        if not a.is_floating_point() or name.endswith(('.s', '.S')):          # spikes, quiet bits, spike lists: exact
            eq = int((a == b).sum()); rows.append((name, a.numel(), eq, float((a.double() - b.double()).abs().max()) if a.numel() else 0., 0., 0, eq == a.numel())); continue
        same = (a == b) | (a.isnan() & b.isnan())
        d = (a.double() - b.double()).abs().masked_fill(same, 0)
        rel = d / torch.maximum(a.double().abs(), b.double().abs()).clamp_min(1e-300)
        ulp = (ordered(a) - ordered(b)).abs().masked_fill(same, 0)
        eps = torch.finfo(a.dtype).eps
        rows.append((name, a.numel(), int(same.sum()), float(d.max()), float(rel.max()), int(ulp.max()), float(rel.max()) <= 4 * eps or int(ulp.max()) <= 4))
    return rows

def neon_counts(binary):
    "NEON vector instructions (operands v<n>.<arrangement> or q<n>) per f32 function of the aarch64 binary, and by mnemonic."
    dis, counts, ops, fn = sh([OBJDUMP, '-d', '--no-show-raw-insn', binary]).stdout, {}, {}, None
    for line in dis.splitlines():
        m = re.match(r'^[0-9a-f]+ <([\w.]+)>:', line)
        if m: fn = m.group(1).split('.')[0]; continue                     # axpy_f32.constprop.0 -> axpy_f32
        if fn and fn.endswith('_f32') and re.search(r'\b(?:v\d+\.(?:16b|8b|8h|4h|4s|2s|2d)|q\d+)\b', line):
            counts[fn] = counts.get(fn, 0) + 1; op = line.split('\t')[1].strip(); ops[op] = ops.get(op, 0) + 1
            if op == 'fmla': ops.setdefault('fmla in', set()).add(fn)
    return counts, ops

def vec_loops(info, src_lines):
    "Loops -fopt-info reports vectorised, by the function (of the translation unit) they lie in."
    starts = [(i + 1, m.group(1)) for i, l in enumerate(src_lines) if (m := re.match(r'^(?:static |int |void |int64_t )(?:.*?__attribute__\(\(\w+\)\))?.*?\b(\w+)\(', l))]
    per = {}
    for m in re.finditer(r'tu\.c:(\d+):\d+: optimized: loop vectorized', info):
        ln = int(m.group(1)); fn = max((s for s in starts if s[0] <= ln), default=(0, '?'))[1]
        per[fn] = per.get(fn, 0) + 1
    return per

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', help='also write the report to this text file')
    ap.add_argument('--keep', action='store_true', help='keep the temp dir (printed)')
    args = ap.parse_args()
    missing = [t for t in (CROSS, QEMU, OBJDUMP, 'gcc') if not shutil.which(t)]
    if missing: print(f"skipped: {', '.join(missing)} not found (apt-get install gcc-aarch64-linux-gnu qemu-user-static)"); return 0
    if not sys.platform.startswith('linux') or not kernels._X86: print("skipped: needs an x86-64 Linux host"); return 0
    tmp = Path(tempfile.mkdtemp(prefix='arm_check_')); src = tmp / 'tu.c'
    src.write_text(kernels.read_c_source() + HARNESS)
    builds = {'x86-64 portable': (['gcc', *FLAGS, '-march=x86-64', '-mtune=generic'], []),
              'aarch64 armv8-a': ([CROSS, *FLAGS, '-march=armv8-a', '-static'], [QEMU]),
              'x86-64 ubsan+asan': (['gcc', *FLAGS, '-march=x86-64', '-mtune=generic', '-g', '-fsanitize=undefined,address',
                                     '-fno-sanitize-recover=all', '-fno-omit-frame-pointer'], [])}
    res, infos, lines = {}, {}, []
    head = (f"arm_check {datetime.date.today()} | {version('gcc')} | {version(CROSS)} | {version(QEMU)} | "
            f"command: python {' '.join(sys.argv)} (niceness {os.nice(0)}, CPUs {sorted(os.sched_getaffinity(0))})")
    lines += [head, f"flags: {' '.join(FLAGS)} (no -fopenmp, single thread); sizes T=20 B=3 N=37, input projection R=60 K=29 N=71", '']
    for name, (cc, runner) in builds.items():
        exe, info = tmp / re.sub(r'\W+', '_', name), tmp / (re.sub(r'\W+', '_', name) + '.vec')
        c = sh([*cc, f'-fopt-info-vec-optimized={info}', str(src), '-o', str(exe), '-lm'])
        if c.returncode: print(f"FAIL: {name} does not compile:\n{c.stderr[-3000:]}"); return 1
        r = sh([*runner, str(exe), str(exe) + '.bin'], timeout=600, env={**os.environ, 'ASAN_OPTIONS': 'detect_leaks=0'})   # the harness never frees
        if r.returncode: lines.append(f"FAIL: {name} run exited {r.returncode}: {r.stderr[-2000:]}"); print('\n'.join(lines)); return 1
        if r.stderr.strip(): lines.append(f"{name} stderr: {r.stderr.strip()[:500]}")
        res[name], infos[name] = read_records(str(exe) + '.bin'), info.read_text()
    ref = res['x86-64 portable']
    rate = lambda k: float(ref[k].mean())
    lines.append(f"spike rates: lif {rate('lif_fwd.s'):.3f}, lif ff {rate('lif_fwd_ff.s'):.3f}, alif {rate('alif_fwd.S'):.3f}, "
                 f"alif plain {rate('alif_fwd_plain.S'):.3f}; input non-zeros {ref['spike_lists.ptr'][-1].item()} of {60 * 29}")
    ok_all = True
    for other in ('aarch64 armv8-a', 'x86-64 ubsan+asan'):
        rows = compare(ref, res[other]); ok = all(r[-1] for r in rows); ok_all &= ok
        lines += ['', f"{other} vs x86-64 portable: {'ALL MATCH' if ok else 'MISMATCH'} "
                      f"({sum(r[2] == r[1] for r in rows)}/{len(rows)} arrays bit for bit)",
                  f"{'array':28s} {'n':>6s} {'equal':>6s} {'max abs':>10s} {'max rel':>10s} {'ulps':>5s}"]
        lines += [f"{n:28s} {c:6d} {e:6d} {a:10.3g} {rl:10.3g} {u:5d}{'' if k else '  <-- FAIL'}" for n, c, e, a, rl, u, k in rows]
    # Within a build: SpikeListLinear and sparse_linear promise the same bits.
    for name, r in res.items():
        same_f = torch.equal(r['spike_linear.out'], r['sparse_linear.out'])
        same_g = torch.equal(r['spike_linear_wgrad.dW'].view(71, 29).t().reshape(-1), r['sparse_linear_wgrad.dwt'])
        lines.append(f"{name}: spike_linear == sparse_linear bit for bit: forward {same_f}, weight gradient {same_g}")
    src_lines = src.read_text().splitlines()
    lines += ['', "vectorisation (-fopt-info-vec-optimized: loops vectorised, in the f32 kernels / whole unit):"]
    for name in ('x86-64 portable', 'aarch64 armv8-a'):
        per = vec_loops(infos[name], src_lines)
        lines.append(f"  {name}: {sum(v for f, v in per.items() if f.endswith('_f32'))} / {sum(per.values())}")
    neon, ops = neon_counts(str(tmp / 'aarch64_armv8_a')); fmla_in = sorted(ops.pop('fmla in', ()))
    lines.append(f"aarch64 NEON vector instructions (operands v<n>.4s/.2d/... or q<n>) in the f32 functions, objdump: {sum(neon.values())} in {len(neon)} functions")
    lines.append("  by mnemonic: " + ', '.join(f"{o} {c}" for o, c in sorted(ops.items(), key=lambda kv: -kv[1])[:14]))
    lines.append(f"  fmla (fused) only in {', '.join(fmla_in) or 'none'}: the explicit fmaf() of alif.c; -ffp-contract=off leaves no other")
    lines.append("  per function (static helpers inlined into their caller show loops here and instructions there):")
    per = vec_loops(infos['aarch64 armv8-a'], src_lines)
    for fn in sorted(set(neon) | {f for f in per if f.endswith('_f32')}):
        lines.append(f"  {fn:28s} neon insns {neon.get(fn, 0):5d}   vectorised loops {per.get(fn, 0):3d}")
    lines.append("  (spike_linear_f32 is written with GCC vector types, not auto-vectorised; alif_axpy_f32 is axpy_f32's body, merged by\n"
                 "   identical-code folding, which sparse_linear_f32 calls; aarch64 results come from qemu user-mode emulation, not a real core)")
    lines += ['', 'RESULT: ' + ('PASS: the aarch64 build agrees with the x86-64 portable build' if ok_all else 'FAIL: see <-- FAIL rows')]
    text = '\n'.join(lines); print(text)
    if args.out: Path(args.out).write_text(text + '\n')
    if args.keep: print(f"temp dir: {tmp}")
    else: shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok_all else 1

if __name__ == '__main__':
    sys.exit(main())
