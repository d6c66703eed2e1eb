/* hrmas fused CPU kernels: the backward pass over the whole sequence (TSSL-BP and surrogate BPTT).
   Written once over `scalar_t`; hrmas/kernels.py instantiates it for float (_f32) and double (_f64) by
   replacing `scalar_t` and `_SFX`, and compiles all files as one translation unit (see 03a_kernels). */
static void sig_row_SFX(const scalar_t* restrict u, scalar_t thr, scalar_t width, int64_t N, scalar_t* restrict out) {
    for (int64_t i = 0; i < N; ++i) {   /* derivative of sigmoid(x / width), x / width clipped to [-8, 8] */
        const scalar_t xr = (u[i] - thr) / width;
        const scalar_t hi = xr > (scalar_t)8, lo = xr < (scalar_t)-8;
        const scalar_t x = hi * (scalar_t)8 - lo * (scalar_t)8 + ((scalar_t)1 - hi - lo) * xr;   /* exact clip */
        const scalar_t e = sizeof(scalar_t) == 4 ? (scalar_t)exp8_f32((float)-x) : (scalar_t)exp_clipped(-(double)x);
        const scalar_t q = (scalar_t)1 + e;
        out[i] = e / (q * q) / width;                        /* z (1 - z) / width, z = 1 / (1 + e) */
    }
}

static void tssl_row_SFX(const scalar_t* restrict ga, const scalar_t* restrict rec_err, const scalar_t* restrict gs,
                         const scalar_t* restrict s, const scalar_t* restrict u, const scalar_t* restrict up,
                         const scalar_t* restrict sp, const scalar_t* restrict inv_tau, const scalar_t* restrict lam_m,
                         const scalar_t* restrict quiet, const scalar_t* restrict sgr, const scalar_t* restrict k,
                         scalar_t lam_s, scalar_t gain, scalar_t clamp, int64_t N,
                         scalar_t* restrict G, scalar_t* restrict C, scalar_t* restrict ke) {
    for (int64_t i = 0; i < N; ++i) {
        const scalar_t Gi = G[i] * lam_s + gain * (ga[i] + rec_err[i]); G[i] = Gi;     /* kernel sum */
        const scalar_t Gt = Gi + gs[i];
        const scalar_t st = s[i], ut = u[i], upi = up[i], spi = sp[i];
        const scalar_t d = ut - (spi != 0 ? (scalar_t)0 : upi);                  /* Delta[t] = u[t] - v[t-1] */
        const scalar_t dd = d > (scalar_t)1e-12 ? d : (scalar_t)1e-12;
        scalar_t inv = (scalar_t)1 / dd; inv = inv > clamp ? clamp : inv; inv = d > 0 ? inv : (scalar_t)0;
        const scalar_t rho = st * inv;
        const scalar_t coef = rho * ut * inv_tau[i] + ((scalar_t)1 - st) * lam_m[i];
        const scalar_t e_raw = rho * Gt + C[i] * coef;
        C[i] = st * e_raw + ((scalar_t)1 - st) * lam_m[i] * C[i];                /* carry */
        const scalar_t qi = quiet[i], sgi = sgr[i];
        ke[i] = k[i] * (qi != 0 ? sgi * Gt : e_raw);                             /* quiet-neuron override */
    }
}

static void bptt_row_SFX(const scalar_t* restrict ga, const scalar_t* restrict rec_err, const scalar_t* restrict gs,
                         const scalar_t* restrict gu, const scalar_t* restrict s, const scalar_t* restrict u,
                         const scalar_t* restrict lam_m, const scalar_t* restrict sgr, const scalar_t* restrict k,
                         scalar_t lam_s, scalar_t gain, scalar_t keep_reset, int64_t N,
                         scalar_t* restrict A, scalar_t* restrict U, scalar_t* restrict ke) {
    for (int64_t i = 0; i < N; ++i) {   /* A: dL/da[t+1] -> dL/da[t];  U: dL/du[t+1] -> dL/du[t] */
        const scalar_t At = ga[i] + lam_s * A[i] + rec_err[i];
        const scalar_t Vt = lam_m[i] * U[i];                                     /* dL/dv[t] */
        const scalar_t st = s[i], ut = u[i];
        const scalar_t St = gs[i] + gain * At - keep_reset * ut * Vt;            /* v[t] = u[t] - u[t] s[t] */
        const scalar_t Ut = gu[i] + sgr[i] * St + ((scalar_t)1 - st) * Vt;
        A[i] = At; U[i] = Ut; ke[i] = k[i] * Ut;
    }
}

/* Backward over the whole sequence for batch rows [b0, b1), one call: TSSL-BP (mode 0) or surrogate BPTT
   (mode 1). ga, gs, gu = dL/da, dL/ds, dL/du: row (t, b) starts at x + t*x_ts + b*x_bs (strides 0 for a
   broadcast gradient; gs, gu may be NULL). u, s: the forward pass, [T, B, N]; q: its quiet bits
   [T, B, ceil(N / 8)] (TSSL-BP with quiet_mode 0). sg: the surrogate derivative [T, B, N] or NULL for the
   clipped sigmoid of `width` computed here. W [N, N] (post x pre) or NULL; inv_tau = 1 / tau_m.
   Writes ke = k * dL/du[t] = dL/dI_ff[t], [T, B, N]. Returns 0, or 1 if out of memory. */
int lif_backward_SFX(int mode, const scalar_t* ga, int64_t ga_ts, int64_t ga_bs, const scalar_t* gs, int64_t gs_ts,
                     int64_t gs_bs, const scalar_t* gu, int64_t gu_ts, int64_t gu_bs, const scalar_t* u, const scalar_t* s,
                     const uint8_t* q, const scalar_t* sg, const scalar_t* W, const scalar_t* k, const scalar_t* inv_tau,
                     const scalar_t* lam_m, scalar_t lam_s, scalar_t gain, scalar_t thr, scalar_t clamp,
                     scalar_t width, int quiet_mode, int detach_reset, int64_t T, int64_t B, int64_t N,
                     int64_t b0, int64_t b1, scalar_t* ke) {
    scalar_t* buf = (scalar_t*)malloc((size_t)(3 * RBL + 4) * N * sizeof(scalar_t));
    const int64_t np = W ? rec_packed_len_SFX(N) : 0;      /* W in the strips of `rec_matmul` (AVX float builds) */
    scalar_t* Wp = np ? (scalar_t*)malloc((size_t)np * sizeof(scalar_t)) : NULL;
    if (!buf || (np && !Wp)) { free(buf); free(Wp); return 1; }
    if (Wp) rec_pack_SFX(W, N, Wp);
    const scalar_t* Wr = Wp ? Wp : W;
    scalar_t* zero = buf + 3 * RBL * N; scalar_t* srow = zero + N; scalar_t* qrow = srow + N; scalar_t* ones = qrow + N;
    const int64_t NQ = (N + 7) / 8;
    for (int64_t i = 0; i < N; ++i) { zero[i] = 0; ones[i] = 1; }
    /* quiet_mode 0: the bits of q per element; 1: every element quiet; 2: none */
    const scalar_t* quiet = quiet_mode == 1 ? ones : quiet_mode == 2 ? zero : qrow;
    const scalar_t keep_reset = detach_reset ? (scalar_t)0 : (scalar_t)1;
    for (int64_t g0 = b0; g0 < b1; g0 += RBL) {
        const int nr = (int)(b1 - g0 < RBL ? b1 - g0 : RBL);
        memset(buf, 0, (size_t)3 * RBL * N * sizeof(scalar_t));
        scalar_t* Gs = buf; scalar_t* Cs = buf + RBL * N; scalar_t* Es = buf + 2 * RBL * N;   /* recurrent errors of the group */
        const scalar_t* er[RBL]; scalar_t* out[RBL];
        const int nrows = (nr + 7) / 8 * 8;              /* the octets the group's rows fill */
        for (int64_t t = T - 1; t >= 0; --t) {
            const int rec = W && t < T - 1;
            if (rec) {                                   /* recurrent error of step t+1, for the whole group */
                for (int r = 0; r < nrows; ++r) {
                    er[r] = r < nr ? ke + ((t + 1) * B + g0 + r) * N : zero;
                    out[r] = r < nr ? Es + r * N : NULL;
                }
                rec_matmul_SFX(er, Wr, N, out, nrows, Wp != NULL);
            }
            for (int r = 0; r < nr; ++r) {
                const int64_t b = g0 + r, off = (t * B + b) * N;
                if (mode == 0 && quiet_mode == 0) {      /* unpack the quiet bits of row (t, b) */
                    const uint8_t* qr = q + (t * B + b) * NQ;
                    for (int64_t i = quiet_unpack_vec_SFX(qr, N, qrow); i < N; ++i) qrow[i] = (scalar_t)((qr[i >> 3] >> (i & 7)) & 1);
                }
                const scalar_t* sgr = sg ? sg + off : srow;
                if (!sg) sig_row_SFX(u + off, thr, width, N, srow);
                const scalar_t* rec_e = rec ? Es + r * N : zero;
                const scalar_t* ga_ = ga + t * ga_ts + b * ga_bs;
                const scalar_t* gs_ = gs ? gs + t * gs_ts + b * gs_bs : zero;
                if (mode == 0)
                    tssl_row_SFX(ga_, rec_e, gs_, s + off, u + off, t > 0 ? u + off - B * N : zero, t > 0 ? s + off - B * N : zero,
                                 inv_tau, lam_m, quiet, sgr, k, lam_s, gain, clamp, N, Gs + r * N, Cs + r * N, ke + off);
                else
                    bptt_row_SFX(ga_, rec_e, gs_, gu ? gu + t * gu_ts + b * gu_bs : zero, s + off, u + off, lam_m, sgr, k,
                                 lam_s, gain, keep_reset, N, Gs + r * N, Cs + r * N, ke + off);
            }
        }
    }
    free(buf); free(Wp); return 0;
}
