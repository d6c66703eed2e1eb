/* hrmas fused CPU kernels: code shared by both precisions (headers, OpenMP and ISA queries, work split,
   spike indices, the clipped exp, the register-blocked recurrent product). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#define RB 8    /* batch rows per group in the ALIF kernels: one pass over W serves RB rows */
#define RBL 16  /* batch rows per group in the LIF backward pass (a multiple of 8) */

/* Built with OpenMP, the kernels split their work over the OpenMP threads of the runtime PyTorch has loaded
   (libgomp.so.1, resolved by its soname), so no second set of threads competes with PyTorch's. */
int hrmas_openmp(void) {
#if defined(_OPENMP)
    return 1;
#else
    return 0;
#endif
}
/* The instruction set this build was compiled for (what hrmas.kernels.kernel_isa reports): 2 AVX-512,
   1 AVX2 + FMA, 0 neither (the portable code, vectorised by the compiler). */
int hrmas_isa(void) {
#if defined(__AVX512F__)
    return 2;
#elif defined(__AVX2__) && defined(__FMA__)
    return 1;
#else
    return 0;
#endif
}
static void part_range(int64_t n, int parts, int p, int64_t* lo, int64_t* hi) {
    const int64_t step = (n + parts - 1) / parts;
    *lo = p * step < n ? p * step : n; *hi = *lo + step < n ? *lo + step : n;
}

/* Indices of the non-zero entries of a spike row: idx[0..ns). AVX-512: 16 at a time, AVX2: 8, without branches on zeros. */
static int64_t spike_index_f32(const float* restrict s, int64_t N, int64_t* restrict idx) {
    int64_t ns = 0, j = 0;
#if defined(__AVX512F__)
    for (; j + 16 <= N; j += 16) {
        unsigned m = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), _mm512_setzero_ps(), _CMP_NEQ_UQ);
        while (m) { idx[ns++] = j + __builtin_ctz(m); m &= m - 1; }
    }
#elif defined(__AVX2__)
    for (; j + 8 <= N; j += 8) {
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), _mm256_setzero_ps(), _CMP_NEQ_UQ));
        while (m) { idx[ns++] = j + __builtin_ctz(m); m &= m - 1; }
    }
#endif
    for (; j < N; ++j) if (s[j] != 0) idx[ns++] = j;
    return ns;
}
static int64_t spike_index_f64(const double* restrict s, int64_t N, int64_t* restrict idx) {
    int64_t ns = 0;
    for (int64_t j = 0; j < N; ++j) if (s[j] != 0) idx[ns++] = j;
    return ns;
}

/* The spike list of a row of floats from column *j on, in SIMD chunks (the row fill of `spike_linear.c`): the
   columns and values of the non-zeros (x != 0, NaN included, -0 not: as the scalar test) appended at idx + p, val + p,
   in column order; returns the new p and leaves *j at the first column not done (a tail shorter than one chunk).
   AVX-512: 16 columns per step, compressed in registers; AVX2: 8, each half of 4 compressed by a permutation
   from a table of the 16 masks. Masked stores write the non-zeros only, never a slot past the row's list. */
#if defined(__AVX512F__)
static int64_t spike_fill_vec_f32(const float* restrict xr, int64_t K, int32_t* restrict idx, float* restrict val, int64_t p, int64_t* j) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int64_t c0 = *j;
    for (; c0 + 16 <= K; c0 += 16) {
        const __m512 v = _mm512_loadu_ps(xr + c0);
        const __mmask16 m = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        if (!m) continue;
        const int c = __builtin_popcount(m); const __mmask16 st = (__mmask16)((1u << c) - 1);
        _mm512_mask_storeu_ps(val + p, st, _mm512_maskz_compress_ps(m, v));
        _mm512_mask_storeu_epi32(idx + p, st, _mm512_maskz_compress_epi32(m, _mm512_add_epi32(iota, _mm512_set1_epi32((int)c0))));
        p += c;
    }
    *j = c0; return p;
}
#elif defined(__AVX2__) && defined(__FMA__)
static const int32_t SPIKE_PERM4[16][4] = {   /* mask of 4 lanes -> the set lanes in order, then zeros */
    {0,0,0,0}, {0,0,0,0}, {1,0,0,0}, {0,1,0,0}, {2,0,0,0}, {0,2,0,0}, {1,2,0,0}, {0,1,2,0},
    {3,0,0,0}, {0,3,0,0}, {1,3,0,0}, {0,1,3,0}, {2,3,0,0}, {0,2,3,0}, {1,2,3,0}, {0,1,2,3}};
static const int32_t SPIKE_FIRST4[5][4] = {{0,0,0,0}, {-1,0,0,0}, {-1,-1,0,0}, {-1,-1,-1,0}, {-1,-1,-1,-1}};
static int64_t spike_fill_vec_f32(const float* restrict xr, int64_t K, int32_t* restrict idx, float* restrict val, int64_t p, int64_t* j) {
    int64_t c0 = *j;
    for (; c0 + 8 <= K; c0 += 8) {
        const __m256 v = _mm256_loadu_ps(xr + c0);
        const int m = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
        if (!m) continue;
        for (int h = 0; h < 2; ++h) {
            const int nib = (m >> (4 * h)) & 15;
            if (!nib) continue;
            const __m128 vh = h ? _mm256_extractf128_ps(v, 1) : _mm256_castps256_ps128(v);
            const __m128i perm = _mm_loadu_si128((const __m128i*)SPIKE_PERM4[nib]);
            const int c = __builtin_popcount(nib);
            const __m128i st = _mm_loadu_si128((const __m128i*)SPIKE_FIRST4[c]);
            _mm_maskstore_ps(val + p, st, _mm_permutevar_ps(vh, perm));
            _mm_maskstore_epi32(idx + p, st, _mm_add_epi32(perm, _mm_set1_epi32((int)(c0 + 4 * h))));
            p += c;
        }
    }
    *j = c0; return p;
}
#else
static int64_t spike_fill_vec_f32(const float* restrict xr, int64_t K, int32_t* restrict idx, float* restrict val, int64_t p, int64_t* j) {
    (void)xr; (void)K; (void)idx; (void)val; (void)j; return p;   /* portable: the chunked scalar fill */
}
#endif
static int64_t spike_fill_vec_f64(const double* restrict xr, int64_t K, int32_t* restrict idx, double* restrict val, int64_t p, int64_t* j) {
    (void)xr; (void)K; (void)idx; (void)val; (void)j; return p;
}

/* The quiet bits of a float PSC row from element 0 on (`quiet_bits` of forward.c), and back to 0/1 floats (the
   backward pass): whole bytes of 8 elements, by a vector compare and its mask (AVX2, AVX-512), or by a bit test
   per lane; each returns how many elements it did (a multiple of 8), the caller does the rest. a < qthr is false
   for NaN, as the scalar test. */
#if defined(__AVX2__)
static int64_t quiet_pack_vec_f32(const float* restrict a, float qthr, int64_t N, uint8_t* restrict q) {
    const __m256 th = _mm256_set1_ps(qthr); int64_t i = 0;
    for (; i + 8 <= N; i += 8) q[i >> 3] = (uint8_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(a + i), th, _CMP_LT_OQ));
    return i;
}
static int64_t quiet_unpack_vec_f32(const uint8_t* restrict q, int64_t N, float* restrict out) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128); const __m256 one = _mm256_set1_ps(1.f); int64_t i = 0;
    for (; i + 8 <= N; i += 8) {
        const __m256i m = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(q[i >> 3]), bit), bit);
        _mm256_storeu_ps(out + i, _mm256_and_ps(_mm256_castsi256_ps(m), one));
    }
    return i;
}
#else
static int64_t quiet_pack_vec_f32(const float* restrict a, float qthr, int64_t N, uint8_t* restrict q) { (void)a; (void)qthr; (void)N; (void)q; return 0; }
static int64_t quiet_unpack_vec_f32(const uint8_t* restrict q, int64_t N, float* restrict out) { (void)q; (void)N; (void)out; return 0; }
#endif
static int64_t quiet_pack_vec_f64(const double* restrict a, double qthr, int64_t N, uint8_t* restrict q) { (void)a; (void)qthr; (void)N; (void)q; return 0; }
static int64_t quiet_unpack_vec_f64(const uint8_t* restrict q, int64_t N, double* restrict out) { (void)q; (void)N; (void)out; return 0; }

/* exp(x) for |x| <= 8 (the sigmoid is clipped there), branch-free so that the loops calling it vectorise:
   exp(x/16)^16 with a degree-11 Taylor polynomial for |x/16| <= 1/2 (relative error < 2e-11). */
static inline double exp_clipped(double x) {
    const double y = x * 0.0625;
    double p = 1.0 / 39916800; p = p * y + 1.0 / 3628800; p = p * y + 1.0 / 362880; p = p * y + 1.0 / 40320;
    p = p * y + 1.0 / 5040; p = p * y + 1.0 / 720; p = p * y + 1.0 / 120; p = p * y + 1.0 / 24;
    p = p * y + 1.0 / 6; p = p * y + 0.5; p = p * y + 1.0; p = p * y + 1.0;
    p = p * p; p = p * p; p = p * p; return p * p;
}

/* The same in float for |x| <= 8 (the float kernels' sigmoid): x = k ln2 + r with k = round(x / ln2) (from the
   truncation of a positive shift, so it vectorises on every build), exp(r) by its degree-7 Taylor polynomial, times 2^k
   from the exponent bits. At most 1 ulp from the correctly rounded exp over [-8, 8] (checked on a grid of 1.6e7
   points), which is what the double version rounded to float gave; half the vector width's cost in double is gone. */
static inline float exp8_f32(float x) {
    const float y = x * 1.44269504088896341f + 12.5f;            /* > 0 for x >= -8 */
    const int32_t k = (int32_t)y - 12;
    const float kf = (float)k;
    const float r = (x - kf * 0.693145751953125f) - kf * 1.428606820309417232e-06f;
    float p = 1.f / 5040; p = p * r + 1.f / 720; p = p * r + 1.f / 120; p = p * r + 1.f / 24;
    p = p * r + 1.f / 6; p = p * r + 0.5f; p = p * r + 1.f; p = p * r + 1.f;
    const int32_t e = (k + 127) << 23; float two_k; memcpy(&two_k, &e, sizeof two_k);
    return p * two_k;
}

/* The recurrent error of a row group, out[r][j] = sum_i e_r[i] W[i][j] for nrows rows e_r (nrows a multiple of
   8, at most RBL; rows past the group point at zeros and have out[r] = NULL), W [N, N] row-major or, where
   `rec_pack` packed it (packed = 1), in column strips. With AVX-512: blocks of 8 rows x 48 columns of
   accumulators held in registers over the whole sum; with AVX2 + FMA (16 registers of 8 floats) 4 rows x 24
   columns (12 accumulators, 3 for the W row, 1 for the broadcast error). The column strip is the outer loop and
   the blocks of rows the inner one, so the later blocks read the strip (N x 48 or N x 24 floats) that the first
   has just brought into cache: W is read from memory once per call, for up to RBL rows.
   Packed, each strip is one contiguous stretch (its rows 48 or 24 floats apart, not N): read in order, every
   cache line once, so the hardware prefetcher runs ahead of it; row-major, each row of a strip is a piece of
   1.5 or 3 cache lines in a new 4 KiB page (at N = 1024), which no prefetcher follows, and the block waits on
   the cache at every row. Every sum runs over i in increasing order, one fused multiply-add per term, in both
   layouts and for every grouping of the rows: the same bits. */
#if defined(__AVX512F__)
#define REC_SW 48   /* strip width (floats): full strips, then 16-wide ones, the last one padded */
#define REC_VW 16
static inline __attribute__((always_inline)) void rec_block_f32(const float* const* er, const float* restrict W,
        int64_t ldw, int64_t N, int64_t j0, int nv, __mmask16 tail, float* const* out) {
    __m512 acc[8][3];
    for (int r = 0; r < 8; ++r) for (int v = 0; v < 3; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t i = 0; i < N; ++i) {
        const float* w = W + i * ldw;
        __m512 w0, w1 = _mm512_setzero_ps(), w2 = w1;
        if (nv == 3) { w0 = _mm512_loadu_ps(w); w1 = _mm512_loadu_ps(w + 16); w2 = _mm512_loadu_ps(w + 32); }
        else w0 = _mm512_maskz_loadu_ps(tail, w);
        for (int r = 0; r < 8; ++r) {
            const __m512 x = _mm512_set1_ps(er[r][i]);
            acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
            if (nv == 3) { acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]); acc[r][2] = _mm512_fmadd_ps(x, w2, acc[r][2]); }
        }
    }
    for (int r = 0; r < 8; ++r) {
        if (!out[r]) continue;
        float* o = out[r] + j0;
        if (nv == 3) { _mm512_storeu_ps(o, acc[r][0]); _mm512_storeu_ps(o + 16, acc[r][1]); _mm512_storeu_ps(o + 32, acc[r][2]); }
        else _mm512_mask_storeu_ps(o, tail, acc[r][0]);
    }
}
static void rec_matmul_f32(const float* const* er, const float* restrict W, int64_t N, float* const* out, int nrows, int packed) {
    int no = 0, os[RBL / 8];   /* the row octets with a row in the group */
    for (int o = 0; o < nrows; o += 8) { int any = 0; for (int r = o; r < o + 8; ++r) any |= out[r] != NULL; if (any) os[no++] = o; }
    const __mmask16 tail = (__mmask16)((1u << (N % 16)) - 1);
    /* nv is a constant at every call: the compiler keeps all accumulators in registers */
    int64_t j0 = 0;
#define REC_STRIP(w) (packed ? W + j0 * N : W + j0), (packed ? (w) : N)
    for (; j0 + 48 <= N; j0 += 48) for (int k = 0; k < no; ++k) rec_block_f32(er + os[k], REC_STRIP(48), N, j0, 3, 0xFFFF, out + os[k]);
    for (; j0 + 16 <= N; j0 += 16) for (int k = 0; k < no; ++k) rec_block_f32(er + os[k], REC_STRIP(16), N, j0, 1, 0xFFFF, out + os[k]);
    if (j0 < N) for (int k = 0; k < no; ++k) rec_block_f32(er + os[k], REC_STRIP(16), N, j0, 1, tail, out + os[k]);
#undef REC_STRIP
}
#elif defined(__AVX2__) && defined(__FMA__)
#define REC_SW 24
#define REC_VW 8
static inline __attribute__((always_inline)) void rec_block4_f32(const float* const* er, const float* restrict W,
        int64_t ldw, int64_t N, int64_t j0, int nv, int masked, __m256i tail, float* const* out) {
    __m256 acc[4][3];
    for (int r = 0; r < 4; ++r) for (int v = 0; v < 3; ++v) acc[r][v] = _mm256_setzero_ps();
    for (int64_t i = 0; i < N; ++i) {
        const float* w = W + i * ldw;
        __m256 w0, w1 = _mm256_setzero_ps(), w2 = w1;
        if (nv == 3) { w0 = _mm256_loadu_ps(w); w1 = _mm256_loadu_ps(w + 8); w2 = _mm256_loadu_ps(w + 16); }
        else w0 = masked ? _mm256_maskload_ps(w, tail) : _mm256_loadu_ps(w);
        for (int r = 0; r < 4; ++r) {
            const __m256 x = _mm256_broadcast_ss(er[r] + i);
            acc[r][0] = _mm256_fmadd_ps(x, w0, acc[r][0]);
            if (nv == 3) { acc[r][1] = _mm256_fmadd_ps(x, w1, acc[r][1]); acc[r][2] = _mm256_fmadd_ps(x, w2, acc[r][2]); }
        }
    }
    for (int r = 0; r < 4; ++r) {
        if (!out[r]) continue;
        float* o = out[r] + j0;
        if (nv == 3) { _mm256_storeu_ps(o, acc[r][0]); _mm256_storeu_ps(o + 8, acc[r][1]); _mm256_storeu_ps(o + 16, acc[r][2]); }
        else if (masked) _mm256_maskstore_ps(o, tail, acc[r][0]);
        else _mm256_storeu_ps(o, acc[r][0]);
    }
}
static void rec_matmul_f32(const float* const* er, const float* restrict W, int64_t N, float* const* out, int nrows, int packed) {
    const __m256i all = _mm256_set1_epi32(-1);
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(N % 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int nq = 0, qs[RBL / 4];   /* the row quartets with a row in the group */
    for (int q = 0; q < nrows; q += 4) if (out[q] || out[q + 1] || out[q + 2] || out[q + 3]) qs[nq++] = q;
    /* nv and masked are constants at every call: accumulators stay in registers */
    int64_t j0 = 0;
#define REC_STRIP(w) (packed ? W + j0 * N : W + j0), (packed ? (w) : N)
    for (; j0 + 24 <= N; j0 += 24) for (int k = 0; k < nq; ++k) rec_block4_f32(er + qs[k], REC_STRIP(24), N, j0, 3, 0, all, out + qs[k]);
    for (; j0 + 8 <= N; j0 += 8) for (int k = 0; k < nq; ++k) rec_block4_f32(er + qs[k], REC_STRIP(8), N, j0, 1, 0, all, out + qs[k]);
    if (j0 < N) for (int k = 0; k < nq; ++k) rec_block4_f32(er + qs[k], REC_STRIP(8), N, j0, 1, 1, tail, out + qs[k]);
#undef REC_STRIP
}
#else
#define REC_SW 0    /* portable: no packed layout */
#define REC_VW 1
static void rec_matmul_f32(const float* const* er, const float* restrict W, int64_t N, float* const* out, int nrows, int packed) {
    (void)packed;
    for (int r = 0; r < nrows; ++r) {   /* portable: row by row, the inner loop vectorised by the compiler */
        if (!out[r]) continue;
        float* restrict o = out[r]; memset(o, 0, N * sizeof(float));
        for (int64_t i = 0; i < N; ++i) { const float x = er[r][i]; const float* restrict w = W + i * N;
            for (int64_t j = 0; j < N; ++j) o[j] += x * w[j]; }
    }
}
#endif
static void rec_matmul_f64(const double* const* er, const double* restrict W, int64_t N, double* const* out, int nrows, int packed) {
    (void)packed;
    for (int r = 0; r < nrows; ++r) {
        if (!out[r]) continue;
        double* restrict o = out[r]; memset(o, 0, N * sizeof(double));
        for (int64_t i = 0; i < N; ++i) { const double x = er[r][i]; const double* restrict w = W + i * N;
            for (int64_t j = 0; j < N; ++j) o[j] += x * w[j]; }
    }
}
/* The strip layout of W for `rec_matmul` (packed = 1): the strip of columns [j0, j0 + w) at Wp + j0 N, its row i
   at Wp + j0 N + i w, w = REC_SW for the full strips, then REC_VW, the last strip padded with zeros to REC_VW.
   Elements: N x (N rounded up to REC_VW); 0 where the build has no packed layout (portable, double). */
static int64_t rec_packed_len_f32(int64_t N) { return REC_SW ? N * ((N + REC_VW - 1) / REC_VW * REC_VW) : 0; }
static int64_t rec_packed_len_f64(int64_t N) { (void)N; return 0; }
static void rec_pack_f32(const float* restrict W, int64_t N, float* restrict Wp) {
    int64_t j0 = 0;
    while (j0 < N) {
        const int64_t w = j0 + REC_SW <= N ? REC_SW : REC_VW, nw = N - j0 < w ? N - j0 : w;
        float* restrict d = Wp + j0 * N;
        for (int64_t i = 0; i < N; ++i) {
            for (int64_t c = 0; c < nw; ++c) d[i * w + c] = W[i * N + j0 + c];
            for (int64_t c = nw; c < w; ++c) d[i * w + c] = 0;
        }
        j0 += w;
    }
}
static void rec_pack_f64(const double* restrict W, int64_t N, double* restrict Wp) { (void)W; (void)N; (void)Wp; }
