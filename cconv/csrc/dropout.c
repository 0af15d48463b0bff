/* Dropout kernels (see dropout.h). A counter-based generator, not a stream
 * consumed in order: a stream would tie the mask to how the elements were
 * split over threads. One 64-bit draw serves two elements.
 *
 * Dropped elements are zeroed by ANDing the product's bits with an all-ones
 * or all-zero word. Written as `keep ? v : 0`, gcc sinks the multiply into the
 * kept arm and, as it may raise an FP exception, will not run it for every
 * element again: the loop stays a branch, which mispredicts on a random mask
 * (3.6 ms instead of 0.9 for 64x64x12x12 float32; the backward 2.3 instead of
 * 0.35). */
#include <string.h>

#include "dropout.h"

/* Elements per block of draws: 2 KiB of uint32 stay in L1 between drawing them
 * and applying them. Even, so every block starts on the parity of `offset`. */
#define DROPOUT_BLOCK 512

/* Output number k of splitmix64 (Steele, Lea and Flood 2014) from state seed:
 * the state after k + 1 golden-ratio increments, then the finaliser. */
static inline uint64_t dropout_bits(uint64_t seed, uint64_t k) {
    uint64_t z = seed + (k + 1) * UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* u[2j], u[2j + 1]: the low and high halves of draw pair + j. */
static void dropout_draws(uint32_t *u, uint64_t seed, uint64_t pair, int64_t pairs) {
    for (int64_t j = 0; j < pairs; j++) {
        const uint64_t bits = dropout_bits(seed, pair + j);
        u[2 * j] = (uint32_t)bits;
        u[2 * j + 1] = (uint32_t)(bits >> 32);
    }
}

#define DROPOUT_KERNELS(SFX, REAL, UINT)                                                   \
    /* v where keep is 1, +0 where it is 0 */                                             \
    static inline REAL dropout_keep_##SFX(REAL v, UINT keep) {                            \
        UINT b;                                                                           \
        memcpy(&b, &v, sizeof b);                                                         \
        b &= (UINT)0 - keep;                                                              \
        memcpy(&v, &b, sizeof b);                                                         \
        return v;                                                                         \
    }                                                                                     \
    static void dropout_apply_##SFX(const REAL *x, REAL *out, uint8_t *mask,              \
                                    const uint32_t *u, int64_t n, uint32_t threshold,     \
                                    REAL scale) {                                         \
        for (int64_t i = 0; i < n; i++) {                                                 \
            const UINT keep = u[i] >= threshold;                                          \
            mask[i] = (uint8_t)keep;                                                      \
            out[i] = dropout_keep_##SFX(x[i] * scale, keep);                              \
        }                                                                                 \
    }                                                                                     \
    void cconv_dropout_forward_##SFX(const REAL *x, REAL *out, uint8_t *mask,             \
                                     int64_t offset, int64_t n, uint64_t seed,            \
                                     uint32_t threshold, double scale) {                  \
        uint32_t u[DROPOUT_BLOCK + 2];                                                    \
        /* an odd first element is the high half of its pair's draw */                    \
        const int64_t lead = offset & 1;                                                  \
        for (int64_t i = 0; i < n; i += DROPOUT_BLOCK) {                                  \
            const int64_t m = n - i < DROPOUT_BLOCK ? n - i : DROPOUT_BLOCK;              \
            dropout_draws(u, seed, (uint64_t)(offset + i) >> 1, (lead + m + 1) >> 1);     \
            dropout_apply_##SFX(x + i, out + i, mask + i, u + lead, m, threshold,        \
                                (REAL)scale);                                             \
        }                                                                                 \
    }                                                                                     \
    void cconv_dropout_backward_##SFX(const REAL *grad_output, const uint8_t *mask,       \
                                      REAL *grad_input, int64_t n, double scale) {        \
        const REAL s = (REAL)scale;                                                       \
        for (int64_t i = 0; i < n; i++) {                                                 \
            const UINT keep = mask[i] != 0;                                               \
            grad_input[i] = dropout_keep_##SFX(grad_output[i] * s, keep);                 \
        }                                                                                 \
    }

DROPOUT_KERNELS(f32, float, uint32_t)
DROPOUT_KERNELS(f64, double, uint64_t)
