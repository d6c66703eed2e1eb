/* hrmas fused CPU kernels: the OpenMP drivers: each function above over contiguous ranges of rows.
   Written once over `scalar_t`; hrmas/kernels.py instantiates it for float (_f32) and double (_f64) by
   replacing `scalar_t` and `_SFX`, and compiles all files as one translation unit (see 03a_kernels). */
/* The same functions over `parts` contiguous ranges of batch rows (presynaptic neurons, rows, input
   features), one OpenMP thread each. */
int lif_forward_par_SFX(const scalar_t* x, const scalar_t* k, const scalar_t* rec_fwd, const scalar_t* lam_m, scalar_t lam_s,
                        scalar_t gain, scalar_t thr, int64_t T, int64_t B, int64_t N, int parts,
                        scalar_t* u, scalar_t* s, scalar_t* a, scalar_t* delta, scalar_t qthr, uint8_t* q) {
    int bad = 0;
    #pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(|:bad)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(B, parts, p, &lo, &hi);
        if (lo < hi) bad |= lif_forward_SFX(x, k, rec_fwd, lam_m, lam_s, gain, thr, T, B, N, lo, hi, u, s, a, delta, qthr, q);
    }
    return bad;
}

int lif_backward_par_SFX(int mode, const scalar_t* ga, int64_t ga_ts, int64_t ga_bs, const scalar_t* gs, int64_t gs_ts,
                         int64_t gs_bs, const scalar_t* gu, int64_t gu_ts, int64_t gu_bs, const scalar_t* u, const scalar_t* s,
                         const uint8_t* q, const scalar_t* sg, const scalar_t* W, const scalar_t* k, const scalar_t* inv_tau,
                         const scalar_t* lam_m, scalar_t lam_s, scalar_t gain, scalar_t thr, scalar_t clamp,
                         scalar_t width, int quiet_mode, int detach_reset, int64_t T, int64_t B, int64_t N,
                         int parts, scalar_t* ke) {
    int bad = 0;
    #pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(|:bad)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(B, parts, p, &lo, &hi);
        if (lo < hi) bad |= lif_backward_SFX(mode, ga, ga_ts, ga_bs, gs, gs_ts, gs_bs, gu, gu_ts, gu_bs, u, s, q, sg, W, k,
                                             inv_tau, lam_m, lam_s, gain, thr, clamp, width, quiet_mode,
                                             detach_reset, T, B, N, lo, hi, ke);
    }
    return bad;
}
int lif_wgrad_par_SFX(const scalar_t* ke, const scalar_t* s, scalar_t lam_s, int64_t T, int64_t B, int64_t N,
                      int parts, scalar_t* dwt) {
    int bad = 0;
    #pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(|:bad)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(N, parts, p, &lo, &hi);
        if (lo < hi) bad |= lif_wgrad_SFX(ke, s, lam_s, T, B, N, lo, hi, dwt);
    }
    return bad;
}

void sparse_linear_par_SFX(const scalar_t* x, const scalar_t* wt, int64_t R, int64_t K, int64_t N, int parts, scalar_t* out) {
    #pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(R, parts, p, &lo, &hi);
        if (lo < hi) sparse_linear_SFX(x, wt, K, N, lo, hi, out);
    }
}

void sparse_linear_wgrad_par_SFX(const scalar_t* x, const scalar_t* g, int64_t R, int64_t K, int64_t N, int parts, scalar_t* dwt) {
    #pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(K, parts, p, &lo, &hi);
        if (lo < hi) sparse_linear_wgrad_SFX(x, g, R, K, N, lo, hi, dwt);
    }
}

void lif_wgrad_tr_par_SFX(scalar_t* a, int64_t N, scalar_t gain, int parts) {
    const int64_t nt = (N + WGRAD_TILE - 1) / WGRAD_TILE;   /* tile rows: the first ones have the most tiles */
    #pragma omp parallel for num_threads(parts) schedule(dynamic, 1)
    for (int64_t I = 0; I < nt; ++I) lif_wgrad_tr_SFX(a, N, gain, I, I + 1);
}
