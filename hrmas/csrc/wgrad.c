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

/* dwt [N, N] -> gain dwt^T in place (dL/dW, contiguous, as the optimiser wants it), for the tile rows
   [i0, i1) of 32: tile row I swaps its tiles (I, J >= I) with their mirrors (J, I), so tile rows are independent.
   Each pair of tiles is copied into two local buffers first (8 KiB, in the L1 cache), so the strided reads of the
   transposition come from there and the loops carry no possible aliasing between their loads and stores. */
#define WGRAD_TILE 32
static void wgrad_tile_pair_SFX(scalar_t* a, int64_t N, scalar_t gain, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    scalar_t P[WGRAD_TILE][WGRAD_TILE], Q[WGRAD_TILE][WGRAD_TILE];   /* P = tile (r, c), Q = tile (c, r) */
    const int64_t nr = r1 - r0, nc = c1 - c0;
    for (int64_t i = 0; i < nr; ++i) for (int64_t j = 0; j < nc; ++j) P[i][j] = a[(r0 + i) * N + c0 + j];
    for (int64_t j = 0; j < nc; ++j) for (int64_t i = 0; i < nr; ++i) Q[j][i] = a[(c0 + j) * N + r0 + i];
    for (int64_t i = 0; i < nr; ++i) for (int64_t j = 0; j < nc; ++j) a[(r0 + i) * N + c0 + j] = Q[j][i] * gain;
    for (int64_t j = 0; j < nc; ++j) for (int64_t i = 0; i < nr; ++i) a[(c0 + j) * N + r0 + i] = P[i][j] * gain;
}
void lif_wgrad_tr_SFX(scalar_t* a, int64_t N, scalar_t gain, int64_t i0, int64_t i1) {
    for (int64_t I = i0; I < i1; ++I) {
        const int64_t r0 = I * WGRAD_TILE, r1 = r0 + WGRAD_TILE < N ? r0 + WGRAD_TILE : N;
        for (int64_t c0 = r0; c0 < N; c0 += WGRAD_TILE)   /* the diagonal tile is its own mirror: the buffers make that safe */
            wgrad_tile_pair_SFX(a, N, gain, r0, r1, c0, c0 + WGRAD_TILE < N ? c0 + WGRAD_TILE : N);
    }
}
