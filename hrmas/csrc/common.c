/* hrmas fused CPU kernels: code shared by both precisions (headers, OpenMP and ISA queries, work split,
   spike indices, the clipped exp, the register-blocked recurrent product). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#define RB 8   /* batch rows per group in the backward pass: one pass over W serves RB rows */

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

/* Indices of the non-zero entries of a spike row: idx[0..ns). AVX-512: 16 at a time, without branches on zeros. */
static int64_t spike_index_f32(const float* restrict s, int64_t N, int64_t* restrict idx) {
    int64_t ns = 0, j = 0;
#if defined(__AVX512F__)
    for (; j + 16 <= N; j += 16) {
        unsigned m = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), _mm512_setzero_ps(), _CMP_NEQ_UQ);
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

/* exp(x) for |x| <= 8 (the sigmoid is clipped there), branch-free so that the loops calling it vectorise:
   exp(x/16)^16 with a degree-11 Taylor polynomial for |x/16| <= 1/2 (relative error < 2e-11). */
static inline double exp_clipped(double x) {
    const double y = x * 0.0625;
    double p = 1.0 / 39916800; p = p * y + 1.0 / 3628800; p = p * y + 1.0 / 362880; p = p * y + 1.0 / 40320;
    p = p * y + 1.0 / 5040; p = p * y + 1.0 / 720; p = p * y + 1.0 / 120; p = p * y + 1.0 / 24;
    p = p * y + 1.0 / 6; p = p * y + 0.5; p = p * y + 1.0; p = p * y + 1.0;
    p = p * p; p = p * p; p = p * p; return p * p;
}

/* The recurrent error of a row group, out[r][j] = sum_i e_r[i] W[i][j] for RB rows e_r (rows past the group
   point at zeros and have out[r] = NULL), W [N, N] row-major. With AVX-512: RB rows x 48 columns of
   accumulators held in registers over the whole sum, so that W is read once per group and step. */
#if defined(__AVX512F__)
static inline __attribute__((always_inline)) void rec_block_f32(const float* const* er, const float* restrict W,
        int64_t N, int64_t j0, int nv, __mmask16 tail, float* const* out) {
    __m512 acc[RB][3];
    for (int r = 0; r < RB; ++r) for (int v = 0; v < 3; ++v) acc[r][v] = _mm512_setzero_ps();
    for (int64_t i = 0; i < N; ++i) {
        const float* w = W + i * N + j0;
        __m512 w0, w1 = _mm512_setzero_ps(), w2 = w1;
        if (nv == 3) { w0 = _mm512_loadu_ps(w); w1 = _mm512_loadu_ps(w + 16); w2 = _mm512_loadu_ps(w + 32); }
        else w0 = _mm512_maskz_loadu_ps(tail, w);
        for (int r = 0; r < RB; ++r) {
            const __m512 x = _mm512_set1_ps(er[r][i]);
            acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
            if (nv == 3) { acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]); acc[r][2] = _mm512_fmadd_ps(x, w2, acc[r][2]); }
        }
    }
    for (int r = 0; r < RB; ++r) {
        if (!out[r]) continue;
        float* o = out[r] + j0;
        if (nv == 3) { _mm512_storeu_ps(o, acc[r][0]); _mm512_storeu_ps(o + 16, acc[r][1]); _mm512_storeu_ps(o + 32, acc[r][2]); }
        else _mm512_mask_storeu_ps(o, tail, acc[r][0]);
    }
}
static void rec_matmul_f32(const float* const* er, const float* restrict W, int64_t N, float* const* out) {
    int64_t j0 = 0;   /* nv is a constant at every call: the compiler keeps all accumulators in registers */
    for (; j0 + 48 <= N; j0 += 48) rec_block_f32(er, W, N, j0, 3, 0xFFFF, out);
    for (; j0 + 16 <= N; j0 += 16) rec_block_f32(er, W, N, j0, 1, 0xFFFF, out);
    if (j0 < N) rec_block_f32(er, W, N, j0, 1, (__mmask16)((1u << (N - j0)) - 1), out);
}
#elif defined(__AVX2__) && defined(__FMA__)
/* AVX2 + FMA: 16 registers of 8 floats, so a block is 4 rows x 24 columns (12 accumulators, 3 for the W row,
   1 for the broadcast error); a group of RB rows takes RB / 4 passes over W, each reading W once. */
static inline __attribute__((always_inline)) void rec_block4_f32(const float* const* er, const float* restrict W,
        int64_t N, int64_t j0, int nv, int masked, __m256i tail, float* const* out) {
    __m256 acc[4][3];
    for (int r = 0; r < 4; ++r) for (int v = 0; v < 3; ++v) acc[r][v] = _mm256_setzero_ps();
    for (int64_t i = 0; i < N; ++i) {
        const float* w = W + i * N + j0;
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
static void rec_matmul_f32(const float* const* er, const float* restrict W, int64_t N, float* const* out) {
    const __m256i all = _mm256_set1_epi32(-1);
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(N % 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int nq = 0, qs[RB / 4];   /* the row quartets with a row in the group */
    for (int q = 0; q < RB; q += 4) if (out[q] || out[q + 1] || out[q + 2] || out[q + 3]) qs[nq++] = q;
    /* column strip outside, quartets inside: the second quartet reads the strip of W (N x 24 floats) the first
       has just brought into cache. nv and masked are constants at every call: accumulators stay in registers. */
    int64_t j0 = 0;
    for (; j0 + 24 <= N; j0 += 24) for (int k = 0; k < nq; ++k) rec_block4_f32(er + qs[k], W, N, j0, 3, 0, all, out + qs[k]);
    for (; j0 + 8 <= N; j0 += 8) for (int k = 0; k < nq; ++k) rec_block4_f32(er + qs[k], W, N, j0, 1, 0, all, out + qs[k]);
    if (j0 < N) for (int k = 0; k < nq; ++k) rec_block4_f32(er + qs[k], W, N, j0, 1, 1, tail, out + qs[k]);
}
#else
static void rec_matmul_f32(const float* const* er, const float* restrict W, int64_t N, float* const* out) {
    for (int r = 0; r < RB; ++r) {   /* portable: row by row, the inner loop vectorised by the compiler */
        if (!out[r]) continue;
        float* restrict o = out[r]; memset(o, 0, N * sizeof(float));
        for (int64_t i = 0; i < N; ++i) { const float x = er[r][i]; const float* restrict w = W + i * N;
            for (int64_t j = 0; j < N; ++j) o[j] += x * w[j]; }
    }
}
#endif
static void rec_matmul_f64(const double* const* er, const double* restrict W, int64_t N, double* const* out) {
    for (int r = 0; r < RB; ++r) {
        if (!out[r]) continue;
        double* restrict o = out[r]; memset(o, 0, N * sizeof(double));
        for (int64_t i = 0; i < N; ++i) { const double x = er[r][i]; const double* restrict w = W + i * N;
            for (int64_t j = 0; j < N; ++j) o[j] += x * w[j]; }
    }
}
