/* Weight gradient of a stride-1 float conv with few output channels (K < 16:
 * first layers), pixels in the vector lanes through the dot_rows kernel:
 *
 *   dW[k, c, r, s] += sum over images, output rows oh and columns ow of
 *                     dY[k, oh, ow] * xp[c, oh + r * dil_h, ow + s * dil_w]
 *
 * where xp is the zero-padded input, built for a few images at a time. Each
 * dW element sums its images in order and, within an image, its rows in
 * order: the result does not depend on the caller's split over threads. */
#include <string.h>
#include "cconv.h"
#include "ukernels.h"

/* Padded planes of this many floats at most per call of the kernel (64 KiB):
 * they stay in L2 while every tap tile reads them. */
#define PADDED_FLOATS 16384

static int64_t padded_h(const cconv_conv2d_geometry *g) {
    return g->out_h + (g->kernel_h - 1) * g->dilation_h;
}
static int64_t padded_w(const cconv_conv2d_geometry *g) {
    return g->out_w + (g->kernel_w - 1) * g->dilation_w;
}

static int64_t images_per_chunk(const cconv_conv2d_geometry *g) {
    const int64_t image = g->channels * padded_h(g) * padded_w(g);
    return image >= PADDED_FLOATS ? 1 : PADDED_FLOATS / image;
}

int64_t cconv_conv2d_backward_weight_rows_workspace_size_f32(const cconv_conv2d_geometry *g) {
    return images_per_chunk(g) * g->channels * padded_h(g) * padded_w(g);
}

/* xp[c][hp][wp] = x[c][hp - pad_top][wp - pad_left], 0 outside x. Each row
 * is zeros, one copy, zeros: a test per element cost 15% of LeNet conv1's dW. */
static void pad_image(const cconv_conv2d_geometry *g, const float *x, float *xp) {
    const int64_t hp_n = padded_h(g), wp_n = padded_w(g), H = g->in_h, W = g->in_w;
    /* padded columns [lo, hi) hold x's columns [lo - pad_left, hi - pad_left) */
    int64_t lo = g->pad_left < 0 ? 0 : g->pad_left, hi = g->pad_left + W;
    if (hi > wp_n) hi = wp_n;
    if (hi < lo) hi = lo;
    for (int64_t c = 0; c < g->channels; c++)
        for (int64_t hp = 0; hp < hp_n; hp++) {
            float *dst = xp + (c * hp_n + hp) * wp_n;
            const int64_t h = hp - g->pad_top;
            if (h < 0 || h >= H) {
                memset(dst, 0, sizeof(float) * (size_t)wp_n);
                continue;
            }
            const float *src = x + (c * H + h) * W;
            memset(dst, 0, sizeof(float) * (size_t)lo);
            memcpy(dst + lo, src + lo - g->pad_left, sizeof(float) * (size_t)(hi - lo));
            memset(dst + hi, 0, sizeof(float) * (size_t)(wp_n - hi));
        }
}

void cconv_conv2d_backward_weight_rows_f32(const cconv_conv2d_geometry *g, const float *x,
                                           int64_t x_image_stride, const float *grad_output,
                                           int64_t grad_output_image_stride, int64_t n_images,
                                           float *grad_weight, float *workspace) {
    const cconv_dot_rows_ukernel_f32 dot_rows = cconv_ukernels.dot_rows_f32;
    const int64_t K = g->out_channels, C = g->channels, RS = g->kernel_h * g->kernel_w;
    const int64_t CRS = C * RS, P = g->out_h * g->out_w;
    const int64_t hp_n = padded_h(g), wp_n = padded_w(g), plane = hp_n * wp_n;
    const int64_t chunk = images_per_chunk(g);
    for (int64_t t0 = 0; t0 < n_images; t0 += chunk) {
        const int64_t images = n_images - t0 < chunk ? n_images - t0 : chunk;
        for (int64_t t = 0; t < images; t++)
            pad_image(g, x + (t0 + t) * x_image_stride, workspace + t * C * plane);
        const float *gy = grad_output + t0 * grad_output_image_stride;
        for (int64_t c = 0; c < C; c++)
            for (int64_t q0 = 0; q0 < RS; q0 += CCONV_DOT_ROWS_NR) {
                const int64_t n = RS - q0 < CCONV_DOT_ROWS_NR ? RS - q0 : CCONV_DOT_ROWS_NR;
                const float *taps[CCONV_DOT_ROWS_NR];
                for (int64_t j = 0; j < CCONV_DOT_ROWS_NR; j++) {
                    const int64_t q = q0 + (j < n ? j : 0);
                    const int64_t r = q / g->kernel_w, s = q % g->kernel_w;
                    taps[j] = workspace + c * plane + r * g->dilation_h * wp_n + s * g->dilation_w;
                }
                for (int64_t k0 = 0; k0 < K; k0 += CCONV_DOT_ROWS_MR)
                    dot_rows(images, g->out_h, g->out_w, gy + k0 * P, grad_output_image_stride,
                             P, g->out_w, taps, C * plane, wp_n,
                             grad_weight + k0 * CRS + c * RS + q0, CRS,
                             K - k0 < CCONV_DOT_ROWS_MR ? K - k0 : CCONV_DOT_ROWS_MR, n);
            }
    }
}
