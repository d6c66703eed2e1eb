/* hrmas fused CPU kernels: the LIF forward pass (spike-driven recurrence, quiet bits).
   Written once over `scalar_t`; hrmas/kernels.py instantiates it for float (_f32) and double (_f64) by
   replacing `scalar_t` and `_SFX`, and compiles all files as one translation unit (see 03a_kernels). */
static __attribute__((noinline)) void axpy_SFX(scalar_t alpha, const scalar_t* restrict x, int64_t N, scalar_t* restrict y) {
    if (alpha == 1) for (int64_t i = 0; i < N; ++i) y[i] += x[i];
    else for (int64_t i = 0; i < N; ++i) y[i] += alpha * x[i];
}

static __attribute__((noinline)) void add_col_SFX(const scalar_t* restrict col, int64_t N, double* restrict irec) {
    for (int64_t i = 0; i < N; ++i) irec[i] += (double)col[i];   /* own function: no loop interchange */
}

static __attribute__((noinline)) void add_cols8_SFX(const scalar_t* const* restrict c, int64_t N, double* restrict irec) {
    const scalar_t *restrict c0 = c[0], *restrict c1 = c[1], *restrict c2 = c[2], *restrict c3 = c[3];
    const scalar_t *restrict c4 = c[4], *restrict c5 = c[5], *restrict c6 = c[6], *restrict c7 = c[7];
    for (int64_t i = 0; i < N; ++i) {  /* two passes of add_cols4 in one: the same two roundings, one load and store of irec */
        const double r = irec[i] + (((double)c0[i] + (double)c1[i]) + ((double)c2[i] + (double)c3[i]));
        irec[i] = r + (((double)c4[i] + (double)c5[i]) + ((double)c6[i] + (double)c7[i]));
    }
}

static __attribute__((noinline)) void add_cols4_SFX(const scalar_t* restrict c0, const scalar_t* restrict c1,
        const scalar_t* restrict c2, const scalar_t* restrict c3, int64_t N, double* restrict irec) {
    for (int64_t i = 0; i < N; ++i)    /* four spikes per pass over the running sum */
        irec[i] += ((double)c0[i] + (double)c1[i]) + ((double)c2[i] + (double)c3[i]);
}

/* One forward step of one batch row. irec = the recurrent current / gain (NULL: feed-forward). x and u may be
   the same memory (the membrane written over the input current): element i of x is read before element i of
   u is written, so they are not `restrict`. */
static void fwd_row_SFX(const scalar_t* x, const scalar_t* restrict k, const scalar_t* restrict lam_m, const double* restrict irec,
                        double gd, scalar_t lam_s, scalar_t gain, scalar_t thr, int64_t N,
                        scalar_t* restrict v, scalar_t* restrict ap, scalar_t* u, scalar_t* restrict s,
                        scalar_t* restrict a, scalar_t* restrict delta) {
    if (irec) {
        for (int64_t i = 0; i < N; ++i) {
            const scalar_t ut = (k[i] * x[i] + lam_m[i] * v[i]) + (scalar_t)(gd * irec[i]);
            const scalar_t st = ut > thr ? (scalar_t)1 : (scalar_t)0;
            delta[i] = ut - v[i]; u[i] = ut; s[i] = st; v[i] = ut - ut * st;
            ap[i] = ap[i] * lam_s + gain * st; a[i] = ap[i];
        }
    } else {   /* the reference's arithmetic, operation for operation: bit for bit */
        for (int64_t i = 0; i < N; ++i) {
            const scalar_t ut = k[i] * x[i] + lam_m[i] * v[i];
            const scalar_t st = ut > thr ? (scalar_t)1 : (scalar_t)0;
            delta[i] = ut - v[i]; u[i] = ut; s[i] = st; v[i] = ut - ut * st;
            ap[i] = ap[i] * lam_s + gain * st; a[i] = ap[i];
        }
    }
}

/* The quiet flags of one PSC row, one bit per neuron: bit i of q = (a[i] < qthr), ceil(N / 8) bytes. */
static void quiet_bits_SFX(const scalar_t* restrict a, scalar_t qthr, int64_t N, uint8_t* restrict q) {
    for (int64_t c = quiet_pack_vec_SFX(a, qthr, N, q) / 8; c < (N + 7) / 8; ++c) {   /* float, AVX2/AVX-512: whole bytes first */
        unsigned bits = 0;
        for (int64_t i = 8 * c, e = 8 * c + 8 < N ? 8 * c + 8 : N; i < e; ++i) bits |= (unsigned)(a[i] < qthr) << (i - 8 * c);
        q[c] = (uint8_t)bits;
    }
}
/* Forward over T steps for batch rows [b0, b1); [T, B, N] arrays, contiguous. x = i_ff, k [N]; rec_fwd = (k W)^T
   [pre, post] or NULL. Writes u (pre-reset; u may be x itself), s, a and, unless delta is NULL,
   delta = u[t] - v[t-1]; unless q is NULL, the quiet bits of a (qthr) into q [T, B, ceil(N / 8)].
   The recurrent current / gain is a running double sum: decay by lam_s, add column r of (k W)^T for every
   neuron r that spiked. Returns 0, or 1 if out of memory. */
int lif_forward_SFX(const scalar_t* x, const scalar_t* k, const scalar_t* rec_fwd, const scalar_t* lam_m, scalar_t lam_s, scalar_t gain,
                    scalar_t thr, int64_t T, int64_t B, int64_t N, int64_t b0, int64_t b1,
                    scalar_t* u, scalar_t* s, scalar_t* a, scalar_t* delta, scalar_t qthr, uint8_t* q) {
    const int64_t NQ = (N + 7) / 8;
    scalar_t* buf = (scalar_t*)malloc(3 * N * sizeof(scalar_t));
    double* irec = (double*)malloc(N * sizeof(double)); int64_t* idx = (int64_t*)malloc(N * sizeof(int64_t));
    if (!buf || !irec || !idx) { free(buf); free(irec); free(idx); return 1; }
    scalar_t* v = buf; scalar_t* ap = buf + N; scalar_t* dscratch = buf + 2 * N;
    const double ld = (double)lam_s;
    for (int64_t b = b0; b < b1; ++b) {
        memset(v, 0, N * sizeof(scalar_t)); memset(ap, 0, N * sizeof(scalar_t)); memset(irec, 0, N * sizeof(double));
        for (int64_t t = 0; t < T; ++t) {
            const int64_t off = (t * B + b) * N;
            fwd_row_SFX(x + off, k, lam_m, rec_fwd ? irec : NULL, (double)gain, lam_s, gain, thr, N, v, ap,
                        u + off, s + off, a + off, delta ? delta + off : dscratch);
            if (q) quiet_bits_SFX(a + off, qthr, N, q + (t * B + b) * NQ);
            if (rec_fwd && t + 1 < T) {
                const int64_t ns = spike_index_SFX(s + off, N, idx);
                for (int64_t i = 0; i < N; ++i) irec[i] *= ld;
                int64_t j = 0;
                for (; j + 8 <= ns; j += 8) {
                    const scalar_t* c[8];
                    for (int r = 0; r < 8; ++r) c[r] = rec_fwd + idx[j + r] * N;
                    add_cols8_SFX(c, N, irec);
                }
                for (; j + 4 <= ns; j += 4)
                    add_cols4_SFX(rec_fwd + idx[j] * N, rec_fwd + idx[j + 1] * N, rec_fwd + idx[j + 2] * N, rec_fwd + idx[j + 3] * N, N, irec);
                for (; j < ns; ++j) add_col_SFX(rec_fwd + idx[j] * N, N, irec);
            }
        }
    }
    free(buf); free(irec); free(idx); return 0;
}
