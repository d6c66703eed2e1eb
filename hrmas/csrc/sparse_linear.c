/* hrmas fused CPU kernels: the input projection for sparse input and its weight gradient.
   Written once over `scalar_t`; hrmas/kernels.py instantiates it for float (_f32) and double (_f64) by
   replacing `scalar_t` and `_SFX`, and compiles all files as one translation unit (see 03a_kernels). */
/* Input projection with sparse input: out[r, :] = sum_{j: x[r, j] != 0} x[r, j] wt[j, :] for rows [r0, r1),
   x [R, K], wt = W^T [K, N]. */
void sparse_linear_SFX(const scalar_t* x, const scalar_t* wt, int64_t K, int64_t N, int64_t r0, int64_t r1, scalar_t* out) {
    for (int64_t r = r0; r < r1; ++r) {
        scalar_t* o = out + r * N; const scalar_t* xr = x + r * K;
        memset(o, 0, N * sizeof(scalar_t));
        for (int64_t j = 0; j < K; ++j) if (xr[j] != 0) axpy_SFX(xr[j], wt + j * N, N, o);
    }
}

/* Its weight gradient: dwt[j, :] = sum_{r: x[r, j] != 0} x[r, j] g[r, :] for input features [j0, j1). */
void sparse_linear_wgrad_SFX(const scalar_t* x, const scalar_t* g, int64_t R, int64_t K, int64_t N, int64_t j0, int64_t j1,
                             scalar_t* dwt) {
    memset(dwt + j0 * N, 0, (j1 - j0) * N * sizeof(scalar_t));
    for (int64_t r = 0; r < R; ++r) {
        const scalar_t* xr = x + r * K;
        for (int64_t j = j0; j < j1; ++j) if (xr[j] != 0) axpy_SFX(xr[j], g + r * N, N, dwt + j * N);
    }
}
