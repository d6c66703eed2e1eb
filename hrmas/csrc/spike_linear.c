/* hrmas CPU kernels: the spike-driven input projection over lists of the input's non-zeros (by row for the
   forward pass, by column for the weight gradient), blocked over the outputs so that one block of W^T (or of
   the gradient) stays in cache while every row is summed. Written once over `scalar_t`, like the other
   template files. The sums run in the same order as `sparse_linear` (and without contraction), so the two
   give the same bits. */
#define SPIKE_NV 8    /* accumulator vectors of 32 bytes per output block: 64 floats or 32 doubles */
typedef scalar_t spike_vec_SFX __attribute__((vector_size(32), aligned(sizeof(scalar_t))));

/* The output block width, in elements. */
int64_t spike_block_SFX(void) { return SPIKE_NV * 32 / sizeof(scalar_t); }

/* Non-zeros per row of x [R, K] for rows [r0, r1): cnt[r]. */
void spike_row_count_SFX(const scalar_t* x, int64_t K, int64_t r0, int64_t r1, int64_t* cnt) {
    for (int64_t r = r0; r < r1; ++r) {
        const scalar_t* xr = x + r * K; int64_t c = 0;
        for (int64_t j = 0; j < K; ++j) c += xr[j] != 0;
        cnt[r] = c;
    }
}

/* The row lists of rows [r0, r1): columns idx and values val of row r's non-zeros from ptr[r], in column order.
   Float rows in a SIMD build: `spike_fill_vec` (compressed vectors, masked stores), then the rest as follows.
   In chunks of 8 entries: an all-zero chunk (most of them, at a few % of spikes) is one vectorised test; the others
   are filled without a branch on zeros (each entry is written, the position moves on a non-zero). That writes one
   slot past the row's list, the first slot of the next non-empty row, so it is done only where that row lies in this
   range (a later row of it rewrites the slot); else the slot belongs to the next range, which another thread may
   already have filled, and the row is filled entry by entry. */
void spike_row_fill_SFX(const scalar_t* x, int64_t K, int64_t r0, int64_t r1, const int64_t* ptr, int32_t* idx, scalar_t* val) {
    for (int64_t r = r0; r < r1; ++r) {
        const scalar_t* xr = x + r * K; int64_t j = 0;
        int64_t p = spike_fill_vec_SFX(xr, K, idx, val, ptr[r], &j);   /* SIMD builds, float: all but a short tail */
        if (ptr[r + 1] < ptr[r1])   /* not `r + 1 < r1`: trailing empty rows would hand the spare write to the next range */
            for (; j + 8 <= K; j += 8) {
                int any = 0;
                for (int i = 0; i < 8; ++i) any |= xr[j + i] != 0;
                if (any) for (int i = 0; i < 8; ++i) { idx[p] = (int32_t)(j + i); val[p] = xr[j + i]; p += xr[j + i] != 0; }
            }
        for (; j < K; ++j) if (xr[j] != 0) { idx[p] = (int32_t)j; val[p] = xr[j]; ++p; }
    }
}

/* The column lists from the row lists (a counting sort): cptr [K + 1], rows cidx and values cval of column j's
   non-zeros from cptr[j], in row order. Returns 1 when out of memory, else 0. */
int spike_transpose_SFX(const int64_t* ptr, const int32_t* idx, const scalar_t* val, int64_t R, int64_t K,
                        int64_t* cptr, int32_t* cidx, scalar_t* cval) {
    int64_t* pos = malloc((K + 1) * sizeof(int64_t));
    if (!pos) return 1;
    memset(cptr, 0, (K + 1) * sizeof(int64_t));
    for (int64_t p = 0; p < ptr[R]; ++p) cptr[idx[p] + 1]++;
    for (int64_t j = 0; j < K; ++j) cptr[j + 1] += cptr[j];
    memcpy(pos, cptr, (K + 1) * sizeof(int64_t));
    for (int64_t r = 0; r < R; ++r)
        for (int64_t p = ptr[r]; p < ptr[r + 1]; ++p) { int64_t q = pos[idx[p]]++; cidx[q] = (int32_t)r; cval[q] = val[p]; }
    free(pos); return 0;
}

/* Pack W^T in blocks of NB = `spike_block` columns, from W [N, M] (row-major), blocks [b0, b1):
   dst[b][m][k] = W[b NB + k][m], zero past N. A block of W^T is then one stretch of memory with rows NB apart,
   not N (a stride of N elements, often a power of two, would crowd the rows of a block into a few cache sets).
   A transposition, done in tiles of SPIKE_PACK_TILE inputs: the tile's rows of dst (16 x NB elements, 4 KiB)
   stay in the L1 cache while the NB rows of W are read into them, so each line of W and of dst is brought in
   once (a whole column of dst per row of W, M lines NB apart, would miss the cache at every write). */
#define SPIKE_PACK_TILE 16
void spike_pack_SFX(const scalar_t* w, int64_t M, int64_t N, int64_t b0, int64_t b1, scalar_t* dst) {
    const int64_t nbk = SPIKE_NV * 32 / sizeof(scalar_t);
    for (int64_t b = b0; b < b1; ++b) {
        const int64_t n0 = b * nbk, nb = N - n0 < nbk ? N - n0 : nbk;
        scalar_t* d = dst + b * M * nbk;
        for (int64_t m0 = 0; m0 < M; m0 += SPIKE_PACK_TILE) {
            const int64_t me = m0 + SPIKE_PACK_TILE < M ? m0 + SPIKE_PACK_TILE : M;
            for (int64_t k = 0; k < nb; ++k) {
                const scalar_t* restrict wk = w + (n0 + k) * M;
                for (int64_t m = m0; m < me; ++m) d[m * nbk + k] = wk[m];
            }
            for (int64_t m = m0; m < me; ++m) for (int64_t k = nb; k < nbk; ++k) d[m * nbk + k] = 0;
        }
    }
}

/* out[r, :] = sum_p val[p] w[idx[p], :] over row r's list, rows [r0, r1), out [R, N] row-major, or, with ldo > 0,
   transposed: out[n * ldo + r] (out [N, ldo]).
   w is a [M, N] matrix, either packed by `spike_pack` (packed = 1: the forward pass, w = W^T) or row-major
   (packed = 0: the weight gradient, w = the output gradient, lists by column, out = dW^T, or dW itself when
   transposed; each block of w is then packed into a scratch buffer of this call). The accumulators of a block
   are SPIKE_NV vectors (GCC/Clang vector types), held in registers over the list. Transposed, the rows r of a
   range go in order, so the NB lines a block's stores touch are rewritten by the next rows while in the L1
   cache. Returns 1 when out of memory, else 0. */
int spike_linear_SFX(const int64_t* ptr, const int32_t* idx, const scalar_t* val, const scalar_t* w, int packed,
                     int64_t M, int64_t N, int64_t r0, int64_t r1, int64_t ldo, scalar_t* out) {
    const int64_t nbk = SPIKE_NV * 32 / sizeof(scalar_t);
    scalar_t* scratch = NULL;
    if (!packed && !(scratch = malloc(M * nbk * sizeof(scalar_t)))) return 1;
    for (int64_t n0 = 0; n0 < N; n0 += nbk) {
        const int64_t nb = N - n0 < nbk ? N - n0 : nbk;
        const scalar_t* blk = w + (n0 / nbk) * M * nbk;
        if (!packed) {
            for (int64_t m = 0; m < M; ++m) {
                const scalar_t* s = w + m * N + n0; scalar_t* d = scratch + m * nbk;
                for (int64_t k = 0; k < nb; ++k) d[k] = s[k];
                for (int64_t k = nb; k < nbk; ++k) d[k] = 0;
            }
            blk = scratch;
        }
        for (int64_t r = r0; r < r1; ++r) {
            spike_vec_SFX acc[SPIKE_NV];
            for (int v = 0; v < SPIKE_NV; ++v) acc[v] = (spike_vec_SFX){0};
            for (int64_t p = ptr[r]; p < ptr[r + 1]; ++p) {
                const spike_vec_SFX* wr = (const spike_vec_SFX*)(blk + (int64_t)idx[p] * nbk); const scalar_t a = val[p];
                for (int v = 0; v < SPIKE_NV; ++v) acc[v] += a * wr[v];
            }
            if (ldo) { const scalar_t* a = (const scalar_t*)acc; for (int64_t k = 0; k < nb; ++k) out[(n0 + k) * ldo + r] = a[k]; }
            else memcpy(out + r * N + n0, acc, nb * sizeof(scalar_t));
        }
    }
    free(scratch); return 0;
}

/* The same functions over `parts` contiguous ranges (rows, or blocks for the pack), one OpenMP thread each: the
   ranges of `part_range`, which are those the Python thread pool gets (`_chunks`), so the spare-slot rule of the
   row fill sees the same range ends. One fork per call instead of a task per range on the Python pool. */
void spike_row_count_par_SFX(const scalar_t* x, int64_t K, int64_t R, int parts, int64_t* cnt) {
    #pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) { int64_t lo, hi; part_range(R, parts, p, &lo, &hi); if (lo < hi) spike_row_count_SFX(x, K, lo, hi, cnt); }
}
void spike_row_fill_par_SFX(const scalar_t* x, int64_t K, int64_t R, int parts, const int64_t* ptr, int32_t* idx, scalar_t* val) {
    #pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) { int64_t lo, hi; part_range(R, parts, p, &lo, &hi); if (lo < hi) spike_row_fill_SFX(x, K, lo, hi, ptr, idx, val); }
}
void spike_pack_par_SFX(const scalar_t* w, int64_t M, int64_t N, int64_t nblk, int parts, scalar_t* dst) {
    #pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int p = 0; p < parts; ++p) { int64_t lo, hi; part_range(nblk, parts, p, &lo, &hi); if (lo < hi) spike_pack_SFX(w, M, N, lo, hi, dst); }
}
int spike_linear_par_SFX(const int64_t* ptr, const int32_t* idx, const scalar_t* val, const scalar_t* w, int packed,
                         int64_t M, int64_t N, int64_t rows, int64_t ldo, int parts, scalar_t* out) {
    int bad = 0;
    #pragma omp parallel for num_threads(parts) schedule(static, 1) reduction(|:bad)
    for (int p = 0; p < parts; ++p) {
        int64_t lo, hi; part_range(rows, parts, p, &lo, &hi);
        if (lo < hi) bad |= spike_linear_SFX(ptr, idx, val, w, packed, M, N, lo, hi, ldo, out);
    }
    return bad;
}
