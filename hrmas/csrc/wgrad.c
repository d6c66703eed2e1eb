/* hrmas fused CPU kernels: the recurrent weight gradient from the spikes.
   Written once over `scalar_t`; hrmas/kernels.py instantiates it for float (_f32) and double (_f64) by
   replacing `scalar_t` and `_SFX`, and compiles all files as one translation unit (see 03a_kernels). */
/* The recurrent weight gradient from the spikes, after the backward pass, for presynaptic neurons [j0, j1):
   adds H[t, b, :] to row j of dwt [N, N] for every spike s[t, b, j] = 1, t < T - 1, with
   H[t] = lam_s H[t + 1] + ke[t + 1] (H[T - 1] = 0); dL/dW = gain dwt^T. Every caller owns its rows of dwt,
   so threads split the presynaptic neurons and share one N x N buffer. Returns 0, or 1 if out of memory. */
int lif_wgrad_SFX(const scalar_t* ke, const scalar_t* s, scalar_t lam_s, int64_t T, int64_t B, int64_t N,
                  int64_t j0, int64_t j1, scalar_t* dwt) {
    scalar_t* H = (scalar_t*)malloc(N * sizeof(scalar_t));
    int64_t* idx = (int64_t*)malloc((j1 - j0 + 1) * sizeof(int64_t));
    if (!H || !idx) { free(H); free(idx); return 1; }
    memset(dwt + j0 * N, 0, (size_t)(j1 - j0) * N * sizeof(scalar_t));
    for (int64_t b = 0; b < B; ++b) {
        memset(H, 0, N * sizeof(scalar_t));
        for (int64_t t = T - 2; t >= 0; --t) {
            const scalar_t* kn = ke + ((t + 1) * B + b) * N;
            for (int64_t i = 0; i < N; ++i) H[i] = H[i] * lam_s + kn[i];
            const int64_t ns = spike_index_SFX(s + (t * B + b) * N + j0, j1 - j0, idx);
            for (int64_t j = 0; j < ns; ++j) axpy_SFX((scalar_t)1, H, N, dwt + (j0 + idx[j]) * N);
        }
    }
    free(H); free(idx); return 0;
}
