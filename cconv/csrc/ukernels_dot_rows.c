/* dot_rows micro-kernels (float): the weight gradient of stride-1 convs with
 * few output channels (LeNet's first layer: K = 6, 25 taps).
 *
 *   C[i][j] += sum over images t < images, rows r < rows, columns w < len of
 *              a[t * a_image + i * a_channel + r * a_row + w]
 *              * b[j][t * b_image + r * b_row + w]
 *
 * for i < m <= CCONV_DOT_ROWS_MR output channels (a = dY) and j < n <=
 * CCONV_DOT_ROWS_NR taps (b[j] = a tap's view of the padded input). Pixels are
 * the vector lanes, so K = 6 fills them (the channel-lane kernel used 6 of 16
 * lanes); the 6 x 4 sums stay in registers over every row of every image and
 * are reduced across lanes once per call. Row tails are masked loads of zeros
 * on both sides: no pixel past a row is ever multiplied (0 * inf stays out). */
#include "ukernels.h"

void cconv_f32_dot_rows_6x4_generic(int64_t images, int64_t rows, int64_t len,
                                    const float *a, int64_t a_image, int64_t a_channel,
                                    int64_t a_row, const float *const *b, int64_t b_image,
                                    int64_t b_row, float *c, int64_t ldc, int64_t m,
                                    int64_t n) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float sum = 0;
            for (int64_t t = 0; t < images; t++)
                for (int64_t r = 0; r < rows; r++) {
                    const float *ar = a + t * a_image + i * a_channel + r * a_row;
                    const float *br = b[j] + t * b_image + r * b_row;
                    for (int64_t w = 0; w < len; w++) sum += ar[w] * br[w];
                }
            c[i * ldc + j] += sum;
        }
}

#ifdef CCONV_HAVE_X86
#include <immintrin.h>

#if defined(__GNUC__) || defined(__clang__)
#define AVX2_FMA __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f")))
#else
#define AVX2_FMA
#define AVX512
#endif

/* AVX-512: 24 zmm sums + 6 dY vectors + 1 tap vector = 31 of 32 registers;
 * per 16 pixels 10 loads feed 24 FMAs. The sums are named locals, not an
 * array: GCC keeps an array of them on the stack, storing after every FMA. */
#define ROWS_FMA4(i, av)                                                                  \
    s##i##0 = _mm512_fmadd_ps(av, b0v, s##i##0);                                          \
    s##i##1 = _mm512_fmadd_ps(av, b1v, s##i##1);                                          \
    s##i##2 = _mm512_fmadd_ps(av, b2v, s##i##2);                                          \
    s##i##3 = _mm512_fmadd_ps(av, b3v, s##i##3)
#define ROWS_ZERO4(i)                                                                     \
    __m512 s##i##0 = _mm512_setzero_ps(), s##i##1 = _mm512_setzero_ps(),                  \
           s##i##2 = _mm512_setzero_ps(), s##i##3 = _mm512_setzero_ps()
#define ROWS_STORE4(i)                                                                    \
    if (i < m) {                                                                          \
        const __m512 row[4] = {s##i##0, s##i##1, s##i##2, s##i##3};                       \
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] += _mm512_reduce_add_ps(row[j]);  \
    }

AVX512 void cconv_f32_dot_rows_6x4_avx512(int64_t images, int64_t rows, int64_t len,
                                          const float *a, int64_t a_image, int64_t a_channel,
                                          int64_t a_row, const float *const *b,
                                          int64_t b_image, int64_t b_row, float *c,
                                          int64_t ldc, int64_t m, int64_t n) {
    /* channels past m / taps past n repeat the first: readable, never stored */
    const float *a0 = a, *a1 = a + (1 < m ? 1 : 0) * a_channel,
                *a2 = a + (2 < m ? 2 : 0) * a_channel, *a3 = a + (3 < m ? 3 : 0) * a_channel,
                *a4 = a + (4 < m ? 4 : 0) * a_channel, *a5 = a + (5 < m ? 5 : 0) * a_channel;
    const float *b0 = b[0], *b1 = b[1 < n ? 1 : 0], *b2 = b[2 < n ? 2 : 0],
                *b3 = b[3 < n ? 3 : 0];
    ROWS_ZERO4(0); ROWS_ZERO4(1); ROWS_ZERO4(2); ROWS_ZERO4(3); ROWS_ZERO4(4); ROWS_ZERO4(5);
    const int64_t full = len & ~(int64_t)15;
    const __mmask16 tail = (__mmask16)((1u << (len - full)) - 1);
    for (int64_t t = 0; t < images; t++)
        for (int64_t r = 0; r < rows; r++) {
            const int64_t ao = t * a_image + r * a_row, bo = t * b_image + r * b_row;
            for (int64_t w = 0; w < len; w += 16) {
                const __mmask16 k = w < full ? (__mmask16)0xFFFF : tail;
                const int64_t ai = ao + w, bi = bo + w;
                const __m512 b0v = _mm512_maskz_loadu_ps(k, b0 + bi);
                const __m512 b1v = _mm512_maskz_loadu_ps(k, b1 + bi);
                const __m512 b2v = _mm512_maskz_loadu_ps(k, b2 + bi);
                const __m512 b3v = _mm512_maskz_loadu_ps(k, b3 + bi);
                __m512 av = _mm512_maskz_loadu_ps(k, a0 + ai);
                ROWS_FMA4(0, av);
                av = _mm512_maskz_loadu_ps(k, a1 + ai);
                ROWS_FMA4(1, av);
                av = _mm512_maskz_loadu_ps(k, a2 + ai);
                ROWS_FMA4(2, av);
                av = _mm512_maskz_loadu_ps(k, a3 + ai);
                ROWS_FMA4(3, av);
                av = _mm512_maskz_loadu_ps(k, a4 + ai);
                ROWS_FMA4(4, av);
                av = _mm512_maskz_loadu_ps(k, a5 + ai);
                ROWS_FMA4(5, av);
            }
        }
    ROWS_STORE4(0) ROWS_STORE4(1) ROWS_STORE4(2) ROWS_STORE4(3) ROWS_STORE4(4) ROWS_STORE4(5)
}
#undef ROWS_FMA4
#undef ROWS_ZERO4
#undef ROWS_STORE4

/* AVX2 has 16 ymm registers: the tile runs as two passes of 3 channels x 4
 * taps (12 sums + 3 dY vectors + 1 tap vector); full vectors and the row's
 * masked tail are separate loops, so no mask register is held. */
static const int32_t dot_rows_mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};

AVX2_FMA static inline float dot_rows_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

/* one tap j: 3 FMAs into column j of the sums */
#define ROWS_TAP(j, bv)                                                                   \
    s0##j = _mm256_fmadd_ps(a0v, bv, s0##j);                                              \
    s1##j = _mm256_fmadd_ps(a1v, bv, s1##j);                                              \
    s2##j = _mm256_fmadd_ps(a2v, bv, s2##j)
#define ROWS_STEP(LOAD)                                                                   \
    {                                                                                     \
        const __m256 a0v = LOAD(a0 + ai), a1v = LOAD(a1 + ai), a2v = LOAD(a2 + ai);       \
        __m256 bv = LOAD(b0 + bi);                                                        \
        ROWS_TAP(0, bv);                                                                  \
        bv = LOAD(b1 + bi);                                                               \
        ROWS_TAP(1, bv);                                                                  \
        bv = LOAD(b2 + bi);                                                               \
        ROWS_TAP(2, bv);                                                                  \
        bv = LOAD(b3 + bi);                                                               \
        ROWS_TAP(3, bv);                                                                  \
    }
#define ROWS_ZERO4(i)                                                                     \
    __m256 s##i##0 = _mm256_setzero_ps(), s##i##1 = _mm256_setzero_ps(),                  \
           s##i##2 = _mm256_setzero_ps(), s##i##3 = _mm256_setzero_ps()
#define ROWS_STORE4(i)                                                                    \
    if (i0 + i < m) {                                                                     \
        const __m256 row[4] = {s##i##0, s##i##1, s##i##2, s##i##3};                       \
        for (int64_t j = 0; j < n; j++) c[(i0 + i) * ldc + j] += dot_rows_hsum(row[j]);  \
    }
#define ROWS_LOADU(p) _mm256_loadu_ps(p)
#define ROWS_LOAD_TAIL(p) _mm256_maskload_ps(p, tail)

AVX2_FMA void cconv_f32_dot_rows_6x4_avx2(int64_t images, int64_t rows, int64_t len,
                                          const float *a, int64_t a_image, int64_t a_channel,
                                          int64_t a_row, const float *const *b,
                                          int64_t b_image, int64_t b_row, float *c,
                                          int64_t ldc, int64_t m, int64_t n) {
    const float *b0 = b[0], *b1 = b[1 < n ? 1 : 0], *b2 = b[2 < n ? 2 : 0],
                *b3 = b[3 < n ? 3 : 0];
    const int64_t full = len & ~(int64_t)7;
    const __m256i tail =
        _mm256_loadu_si256((const __m256i *)(dot_rows_mask_table + 8 - (len - full)));
    for (int64_t i0 = 0; i0 < m; i0 += 3) {
        const float *a0 = a + i0 * a_channel, *a1 = a + (i0 + 1 < m ? i0 + 1 : i0) * a_channel,
                    *a2 = a + (i0 + 2 < m ? i0 + 2 : i0) * a_channel;
        ROWS_ZERO4(0); ROWS_ZERO4(1); ROWS_ZERO4(2);
        for (int64_t t = 0; t < images; t++)
            for (int64_t r = 0; r < rows; r++) {
                const int64_t ao = t * a_image + r * a_row, bo = t * b_image + r * b_row;
                int64_t w = 0;
                for (; w < full; w += 8) {
                    const int64_t ai = ao + w, bi = bo + w;
                    ROWS_STEP(ROWS_LOADU)
                }
                if (w < len) {
                    const int64_t ai = ao + w, bi = bo + w;
                    ROWS_STEP(ROWS_LOAD_TAIL)
                }
            }
        ROWS_STORE4(0) ROWS_STORE4(1) ROWS_STORE4(2)
    }
}
#undef ROWS_TAP
#undef ROWS_STEP
#undef ROWS_LOADU
#undef ROWS_LOAD_TAIL
#undef ROWS_ZERO4
#undef ROWS_STORE4
#endif
