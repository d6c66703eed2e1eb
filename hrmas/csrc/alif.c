/* hrmas fused CPU kernels: the SRNN adaptive LIF (ALIF) layer of 01a_alif, forward and BPTT backward.
   Written once over `scalar_t`; hrmas/kernels.py instantiates it for float (_f32) and double (_f64) by
   replacing `scalar_t` and `_SFX`, and compiles all files as one translation unit (see 03a_kernels).
   The element-wise arithmetic is `alif_update`'s operation for operation, with fma() where PyTorch's
   vectorised addcmul, add(alpha=) and lerp use a fused multiply-add, so the feed-forward layer is bit for bit. */
#define FMA_f32 fmaf   /* identical redefinition in the second instance: allowed */
#define FMA_f64 fma

/* acc += w * col for one presynaptic neuron, in the order and rounding of PyTorch's small-matrix addmm
   (a fused multiply-add per non-zero input, in increasing input order); own function: no loop interchange. */
static __attribute__((noinline)) void alif_acc_col_SFX(scalar_t w, const scalar_t* restrict col, int64_t N, scalar_t* restrict acc) {
    if (w == 1) for (int64_t j = 0; j < N; ++j) acc[j] = acc[j] + col[j];
    else for (int64_t j = 0; j < N; ++j) acc[j] = FMA_SFX(w, col[j], acc[j]);
}

/* One step of one batch row with adaptation: b = lerp(s, b, rho), theta = beta b + b0, u = alpha u + d - theta s. */
static void alif_row_adapt_SFX(const scalar_t* restrict x, const scalar_t* restrict oma, const scalar_t* restrict irec,
        const scalar_t* restrict alpha,
        const scalar_t* restrict rho, scalar_t b0, scalar_t beta, int64_t N, const scalar_t* restrict up,
        const scalar_t* restrict sp, const scalar_t* restrict bp, scalar_t* restrict u, scalar_t* restrict s,
        scalar_t* restrict th, scalar_t* restrict b) {
    for (int64_t i = 0; i < N; ++i) {
        const scalar_t d = oma[i] * x[i], di = irec ? d + irec[i] : d;
        const scalar_t diff = bp[i] - sp[i], r = rho[i];
        const scalar_t bt = r < (scalar_t)0.5 ? FMA_SFX(r, diff, sp[i]) : FMA_SFX(r - (scalar_t)1, diff, bp[i]);
        const scalar_t tt = bt * beta + b0;
        const scalar_t ut = FMA_SFX(-tt, sp[i], FMA_SFX(alpha[i], up[i], di));
        b[i] = bt; th[i] = tt; u[i] = ut; s[i] = ut - tt > 0 ? (scalar_t)1 : (scalar_t)0;
    }
}

/* One step of one batch row without adaptation (beta = 0): u = alpha u + d - b0 s, theta = b0. */
static void alif_row_plain_SFX(const scalar_t* restrict x, const scalar_t* restrict oma, const scalar_t* restrict irec,
        const scalar_t* restrict alpha,
        scalar_t b0, int64_t N, const scalar_t* restrict up, const scalar_t* restrict sp,
        scalar_t* restrict u, scalar_t* restrict s, scalar_t* restrict th) {
    for (int64_t i = 0; i < N; ++i) {
        const scalar_t d = oma[i] * x[i], di = irec ? d + irec[i] : d;
        const scalar_t ut = FMA_SFX(-b0, sp[i], FMA_SFX(alpha[i], up[i], di));
        th[i] = b0; u[i] = ut; s[i] = ut - b0 > 0 ? (scalar_t)1 : (scalar_t)0;
    }
}

/* Forward over T steps for batch rows [b_lo, b_hi); [T, B, N] arrays, contiguous. x = I_ff, oma = 1 - alpha
   (the drive is oma x, rounded as PyTorch's product); cw = (1 - alpha) W_rec^T [pre, post] or NULL; u0, s0,
   bst0 [B, N] the state entering step 0 (s0 may be real-valued). Writes U, S, TH and, with adaptation (Bo not
   NULL), B. The recurrent input of step t, s[t-1] cw, is summed in increasing input order (as PyTorch's
   small-matrix addmm) for RB rows at a time: by the register-blocked product where more than 1/8 of their
   entries are non-zero, else over the non-zero entries of each row. Returns 0, or 1 if out of memory. */
int alif_forward_SFX(const scalar_t* x, const scalar_t* oma, const scalar_t* cw, const scalar_t* alpha, const scalar_t* rho,
                     const scalar_t* u0, const scalar_t* s0, const scalar_t* bst0, scalar_t b0, scalar_t beta,
                     int64_t T, int64_t B, int64_t N, int64_t b_lo, int64_t b_hi,
                     scalar_t* U, scalar_t* S, scalar_t* TH, scalar_t* Bo) {
    scalar_t* irec = (scalar_t*)malloc((size_t)(RB + 1) * N * sizeof(scalar_t)); int64_t* idx = (int64_t*)malloc(N * sizeof(int64_t));
    if (!irec || !idx) { free(irec); free(idx); return 1; }
    scalar_t* zero = irec + RB * N; memset(zero, 0, N * sizeof(scalar_t));
    for (int64_t g0 = b_lo; g0 < b_hi; g0 += RB) {
        const int nr = (int)(b_hi - g0 < RB ? b_hi - g0 : RB);
        const scalar_t *up[RB], *sp[RB], *bp[RB], *er[RB]; scalar_t* out[RB];
        for (int r = 0; r < nr; ++r) { up[r] = u0 + (g0 + r) * N; sp[r] = s0 + (g0 + r) * N; bp[r] = bst0 + (g0 + r) * N; }
        for (int64_t t = 0; t < T; ++t) {
            if (cw) {
                int64_t nz = 0;
                for (int r = 0; r < nr; ++r) for (int64_t i = 0; i < N; ++i) nz += sp[r][i] != 0;
                if (8 * nz > nr * N) {
                    for (int r = 0; r < RB; ++r) { er[r] = r < nr ? sp[r] : zero; out[r] = r < nr ? irec + r * N : NULL; }
                    rec_matmul_SFX(er, cw, N, out, RB, 0);
                } else for (int r = 0; r < nr; ++r) {
                    scalar_t* acc = irec + r * N; int64_t ns = 0;
                    memset(acc, 0, N * sizeof(scalar_t));
                    for (int64_t i = 0; i < N; ++i) if (sp[r][i] != 0) idx[ns++] = i;
                    for (int64_t j = 0; j < ns; ++j) alif_acc_col_SFX(sp[r][idx[j]], cw + idx[j] * N, N, acc);
                }
            }
            for (int r = 0; r < nr; ++r) {
                const int64_t off = (t * B + g0 + r) * N;
                const scalar_t* ir = cw ? irec + r * N : NULL;
                if (Bo) alif_row_adapt_SFX(x + off, oma, ir, alpha, rho, b0, beta, N, up[r], sp[r], bp[r], U + off, S + off, TH + off, Bo + off);
                else alif_row_plain_SFX(x + off, oma, ir, alpha, b0, N, up[r], sp[r], U + off, S + off, TH + off);
                up[r] = U + off; sp[r] = S + off; if (Bo) bp[r] = Bo + off;
            }
        }
    }
    free(irec); free(idx); return 0;
}

/* exp(-q) for q >= 0, written so that the compiler vectorises it (no libm call, no float comparison): 0 for
   q above 80 (float) or 700 (double), where exp(-q) is below 2e-35 (resp. 1e-304): no denormal results, whose
   arithmetic is slow, downstream. Else -q = k ln2 + r, |r| <= ln2 / 2, exp(r) by its Taylor polynomial (degree
   8 in float, 13 in double: truncation below the rounding), times 2^k from the exponent bits. q is compared
   and clipped through the integer order of its bits. */
static inline scalar_t alif_expneg_SFX(scalar_t q) {
    const int dbl = sizeof(scalar_t) == 8;
    scalar_t keep;
    if (dbl) { int64_t qi, li; const double lim = 700; memcpy(&qi, &q, 8); memcpy(&li, &lim, 8);
               keep = (scalar_t)(qi < li); qi = qi < li ? qi : li; memcpy(&q, &qi, 8); }
    else { int32_t qi, li; const float lim = 80; memcpy(&qi, &q, 4); memcpy(&li, &lim, 4);
           keep = (scalar_t)(qi < li); qi = qi < li ? qi : li; memcpy(&q, &qi, 4); }
    const scalar_t x = -q;
    const scalar_t kf = (scalar_t)(int64_t)(x * (scalar_t)1.4426950408889634 - (scalar_t)0.5);   /* round(x / ln2), x <= 0 */
    const scalar_t r = (x - kf * (scalar_t)0.693145751953125) - kf * (scalar_t)1.428606820309417232e-06;
    scalar_t p;
    if (dbl) { p = (scalar_t)(1.0 / 6227020800); p = p * r + (scalar_t)(1.0 / 479001600); p = p * r + (scalar_t)(1.0 / 39916800);
               p = p * r + (scalar_t)(1.0 / 3628800); p = p * r + (scalar_t)(1.0 / 362880); p = p * r + (scalar_t)(1.0 / 40320); }
    else p = (scalar_t)(1.0 / 40320);
    p = p * r + (scalar_t)(1.0 / 5040); p = p * r + (scalar_t)(1.0 / 720); p = p * r + (scalar_t)(1.0 / 120);
    p = p * r + (scalar_t)(1.0 / 24); p = p * r + (scalar_t)(1.0 / 6); p = p * r + (scalar_t)0.5; p = p * r + (scalar_t)1; p = p * r + (scalar_t)1;
    scalar_t two_k;
    if (dbl) { const int64_t e = ((int64_t)kf + 1023) << 52; memcpy(&two_k, &e, sizeof two_k); }
    else { const int32_t e = ((int32_t)kf + 127) << 23; memcpy(&two_k, &e, sizeof two_k); }
    return p * two_k * keep;
}

/* The multi-Gaussian surrogate derivative of one row at x = u - theta, mg = {c0, k0, c1, k1, sigma}:
   c0 exp(-k0 x^2) - c1 (exp(-k1 (x - sigma)^2) + exp(-k1 (x + sigma)^2)) (`multi_gaussian_grad`). */
static void alif_mg_row_SFX(const scalar_t* restrict u, const scalar_t* restrict th, const double* mg, int64_t N,
                            scalar_t* restrict psi) {
    const scalar_t c0 = (scalar_t)mg[0], k0 = (scalar_t)mg[1], c1 = (scalar_t)mg[2], k1 = (scalar_t)mg[3], sg = (scalar_t)mg[4];
    for (int64_t i = 0; i < N; ++i) {
        const scalar_t x = u[i] - th[i], xm = x - sg, xp = x + sg;
        psi[i] = c0 * alif_expneg_SFX(k0 * x * x) - c1 * (alif_expneg_SFX(k1 * xm * xm) + alif_expneg_SFX(k1 * xp * xp));
    }
}

/* One reverse step of one batch row: dL/du[t] into GU, the carries cu, cs, cb into step t-1 updated in place
   (cs without the recurrent term, which the caller adds for the whole group), dL/dI_ff[t] = oma dL/du[t] into
   GI, and the sums of the decays' gradients ga += dL/du[t] (u[t-1] - I_ff[t]) (the membrane's decay and the
   drive's 1 - alpha), gr += dL/db[t] (b[t-1] - s[t-1]). up, sp, bp: u, s, b at t-1; x: I_ff[t]. */
static void alif_bwd_row_SFX(const scalar_t* restrict gs, const scalar_t* restrict gu, const scalar_t* restrict gth,
        const scalar_t* restrict psi, const scalar_t* restrict x, const scalar_t* restrict oma,
        const scalar_t* restrict up, const scalar_t* restrict sp,
        const scalar_t* restrict bp, const scalar_t* restrict th, const scalar_t* restrict alpha,
        const scalar_t* restrict rho, const scalar_t* restrict omr, scalar_t b0, scalar_t beta, int adaptive,
        int64_t N, scalar_t* restrict cu, scalar_t* restrict cs, scalar_t* restrict cb, scalar_t* restrict GU,
        scalar_t* restrict GI, double* restrict ga, double* restrict gr) {
    if (adaptive) {
        for (int64_t i = 0; i < N; ++i) {
            const scalar_t gx = (gs[i] + cs[i]) * psi[i];
            const scalar_t g = (gu[i] + cu[i]) + gx;
            const scalar_t gb = cb[i] + beta * ((gth[i] - gx) - g * sp[i]);
            GU[i] = g; GI[i] = g * oma[i]; ga[i] += (double)g * ((double)up[i] - (double)x[i]); gr[i] += (double)gb * ((double)bp[i] - (double)sp[i]);
            cs[i] = FMA_SFX(-th[i], g, omr[i] * gb); cb[i] = rho[i] * gb; cu[i] = alpha[i] * g;
        }
    } else {
        const scalar_t nb0 = -b0;
        for (int64_t i = 0; i < N; ++i) {
            const scalar_t gx = (gs[i] + cs[i]) * psi[i];
            const scalar_t g = (gu[i] + cu[i]) + gx;
            GU[i] = g; GI[i] = g * oma[i]; ga[i] += (double)g * ((double)up[i] - (double)x[i]); cs[i] = g * nb0; cu[i] = alpha[i] * g;
        }
    }
}

static __attribute__((noinline)) void alif_axpy_SFX(scalar_t a, const scalar_t* restrict x, int64_t N, scalar_t* restrict y) {
    if (a == 1) for (int64_t i = 0; i < N; ++i) y[i] += x[i];
    else for (int64_t i = 0; i < N; ++i) y[i] += a * x[i];
}

static void alif_add_SFX(const scalar_t* restrict e, int64_t N, scalar_t* restrict cs) {
    for (int64_t i = 0; i < N; ++i) cs[i] = cs[i] + e[i];
}

/* The reverse loop (`_alif_reverse_loop`) for batch rows [b_lo, b_hi), RB rows per group so that one pass
   over W serves RB rows. gs, gu, gth: dL/ds, dL/du, dL/dtheta, row (t, b) at x + t*x_ts + b*x_bs (strides 0
   for a broadcast or absent gradient); psi, U, S, TH, Bs: the surrogate derivative and the forward pass
   [T, B, N] (Bs only when adaptive; psi NULL: the multi-Gaussian of parameters mg, computed here); X = I_ff
   [T, B, N], oma = 1 - alpha; u0, s0, bst0 [B, N]: the state entering step 0. cwt = cw^T [post, pre] or NULL;
   omr = 1 - rho. tbptt: cut the carries entering step t when t % tbptt == 0 (0: never). Writes GU = dL/du,
   GI = dL/dI_ff, the carries into the initial state cu, cs, cb [B, N], and adds this range's dL/dalpha,
   dL/drho to ga, gr [N] (double). Returns 0, or 1 if out of memory. */
int alif_backward_SFX(const scalar_t* gs, int64_t gs_ts, int64_t gs_bs, const scalar_t* gu, int64_t gu_ts, int64_t gu_bs,
                      const scalar_t* gth, int64_t gth_ts, int64_t gth_bs, const scalar_t* psi, const scalar_t* U,
                      const scalar_t* S, const scalar_t* TH, const scalar_t* Bs, const scalar_t* X, const scalar_t* oma,
                      const scalar_t* u0, const scalar_t* s0,
                      const scalar_t* bst0, const scalar_t* cwt, const scalar_t* alpha, const scalar_t* rho,
                      const scalar_t* omr, const double* mg, scalar_t b0, scalar_t beta, int adaptive, int64_t tbptt,
                      int64_t T, int64_t B, int64_t N, int64_t b_lo, int64_t b_hi,
                      scalar_t* GU, scalar_t* GI, scalar_t* cu, scalar_t* cs, scalar_t* cb, double* ga, double* gr) {
    scalar_t* buf = (scalar_t*)malloc((size_t)(RB + 2) * N * sizeof(scalar_t));
#if defined(__AVX512F__)
    const int64_t np = 0;      /* AVX-512: cw^T row-major (its 48-float strips are whole cache lines; packing gained nothing) */
#else
    const int64_t np = cwt ? rec_packed_len_SFX(N) : 0;   /* AVX2: cw^T in the column strips of `rec_matmul`, since
                                  row-major 24-float strips split cache lines (faster at N = 512 in an A/B on an AMD EPYC) */
#endif
    scalar_t* Wp = np ? (scalar_t*)malloc((size_t)np * sizeof(scalar_t)) : NULL;
    if (!buf || (np && !Wp)) { free(buf); free(Wp); return 1; }
    if (Wp) rec_pack_SFX(cwt, N, Wp);
    const scalar_t* Wr = Wp ? Wp : cwt;
    scalar_t* zero = buf + RB * N; scalar_t* psi_row = zero + N;
    memset(zero, 0, N * sizeof(scalar_t));
    for (int64_t b = b_lo; b < b_hi; ++b) {
        memset(cu + b * N, 0, N * sizeof(scalar_t)); memset(cs + b * N, 0, N * sizeof(scalar_t));
        memset(cb + b * N, 0, N * sizeof(scalar_t));
    }
    for (int64_t g0 = b_lo; g0 < b_hi; g0 += RB) {
        const int nr = (int)(b_hi - g0 < RB ? b_hi - g0 : RB);
        const scalar_t* er[RB]; scalar_t* out[RB];
        for (int64_t t = T - 1; t >= 0; --t) {
            for (int r = 0; r < nr; ++r) {
                const int64_t b = g0 + r, off = (t * B + b) * N, prev = off - B * N;
                const scalar_t* up = t > 0 ? U + prev : u0 + b * N;
                const scalar_t* sp = t > 0 ? S + prev : s0 + b * N;
                const scalar_t* bp = adaptive ? (t > 0 ? Bs + prev : bst0 + b * N) : zero;
                if (!psi) alif_mg_row_SFX(U + off, TH + off, mg, N, psi_row);
                alif_bwd_row_SFX(gs + t * gs_ts + b * gs_bs, gu + t * gu_ts + b * gu_bs, gth + t * gth_ts + b * gth_bs,
                                 psi ? psi + off : psi_row, X + off, oma, up, sp, bp, TH + off, alpha, rho, omr, b0, beta,
                                 adaptive, N, cu + b * N, cs + b * N, cb + b * N, GU + off, GI + off, ga, gr);
            }
            const int cut = tbptt > 0 && t > 0 && t % tbptt == 0;
            if (cut) {                                   /* the state entering step t was detached */
                for (int r = 0; r < nr; ++r) {
                    const int64_t b = g0 + r;
                    memset(cu + b * N, 0, N * sizeof(scalar_t)); memset(cs + b * N, 0, N * sizeof(scalar_t));
                    memset(cb + b * N, 0, N * sizeof(scalar_t));
                }
            } else if (cwt) {                            /* cs += dL/du[t] cw^T, the whole group at once */
                for (int r = 0; r < RB; ++r) {
                    er[r] = r < nr ? GU + (t * B + g0 + r) * N : zero;
                    out[r] = r < nr ? buf + r * N : NULL;
                }
                rec_matmul_SFX(er, Wr, N, out, RB, Wp != NULL);   /* packed or not: the same sums, the same bits */
                for (int r = 0; r < nr; ++r) alif_add_SFX(buf + r * N, N, cs + (g0 + r) * N);
            }
        }
    }
    free(buf); free(Wp); return 0;
}

/* dL/dcw for presynaptic neurons [i_lo, i_hi): g[i][:] = sum over (t, b) of s[t-1, b, i] GU[t, b, :], from the
   non-zero entries of s[t-1] (S [T, B, N], and s0 [B, N] at t = 0, which may be real-valued). g [N, N] (pre x post). */
void alif_wgrad_SFX(const scalar_t* S, const scalar_t* s0, const scalar_t* GU, int64_t T, int64_t B, int64_t N,
                    int64_t i_lo, int64_t i_hi, scalar_t* g) {
    memset(g + i_lo * N, 0, (size_t)(i_hi - i_lo) * N * sizeof(scalar_t));
    for (int64_t r = 0; r < T * B; ++r) {
        const scalar_t* s = r < B ? s0 + r * N : S + (r - B) * N; const scalar_t* e = GU + r * N;
        for (int64_t i = i_lo; i < i_hi; ++i) if (s[i] != 0) alif_axpy_SFX(s[i], e, N, g + i * N);
    }
}

/* The same functions over `parts` contiguous ranges of batch rows (presynaptic neurons), one OpenMP thread
   each; the backward pass's decay gradients go to one [N] pair per part, ga + p N and gr + p N. */
int alif_forward_par_SFX(const scalar_t* x, const scalar_t* oma, const scalar_t* cw, const scalar_t* alpha, const scalar_t* rho,
                         const scalar_t* u0, const scalar_t* s0, const scalar_t* bst0, scalar_t b0, scalar_t beta,
                         int64_t T, int64_t B, int64_t N, int parts, scalar_t* U, scalar_t* S, scalar_t* TH, scalar_t* Bo) {
    int bad = 0;
    #pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(|:bad)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(B, parts, p, &lo, &hi);
        if (lo < hi) bad |= alif_forward_SFX(x, oma, cw, alpha, rho, u0, s0, bst0, b0, beta, T, B, N, lo, hi, U, S, TH, Bo);
    }
    return bad;
}

int alif_backward_par_SFX(const scalar_t* gs, int64_t gs_ts, int64_t gs_bs, const scalar_t* gu, int64_t gu_ts, int64_t gu_bs,
                          const scalar_t* gth, int64_t gth_ts, int64_t gth_bs, const scalar_t* psi, const scalar_t* U,
                          const scalar_t* S, const scalar_t* TH, const scalar_t* Bs, const scalar_t* X, const scalar_t* oma,
                          const scalar_t* u0, const scalar_t* s0,
                          const scalar_t* bst0, const scalar_t* cwt, const scalar_t* alpha, const scalar_t* rho,
                          const scalar_t* omr, const double* mg, scalar_t b0, scalar_t beta, int adaptive, int64_t tbptt,
                          int64_t T, int64_t B, int64_t N, int parts,
                          scalar_t* GU, scalar_t* GI, scalar_t* cu, scalar_t* cs, scalar_t* cb, double* ga, double* gr) {
    int bad = 0;
    #pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(|:bad)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(B, parts, p, &lo, &hi);
        if (lo < hi) bad |= alif_backward_SFX(gs, gs_ts, gs_bs, gu, gu_ts, gu_bs, gth, gth_ts, gth_bs, psi, U, S, TH, Bs,
                                              X, oma, u0, s0, bst0, cwt, alpha, rho, omr, mg, b0, beta, adaptive, tbptt, T, B, N,
                                              lo, hi, GU, GI, cu, cs, cb, ga + p * N, gr + p * N);
    }
    return bad;
}

void alif_wgrad_par_SFX(const scalar_t* S, const scalar_t* s0, const scalar_t* GU, int64_t T, int64_t B, int64_t N,
                        int parts, scalar_t* g) {
    #pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(N, parts, p, &lo, &hi);
        if (lo < hi) alif_wgrad_SFX(S, s0, GU, T, B, N, lo, hi, g);
    }
}
