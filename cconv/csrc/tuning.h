/* Every blocking constant of the kernels, in one place (BLIS style).
 *
 * The GEMM register tile is MR rows x NR columns of C. For fp32 AVX2 that is
 * 6 x 16 = 12 ymm accumulators + 2 for B + 1 broadcast: 15 of the 16 ymm
 * registers, so the FMA units (2 per Zen 2 core, 5-cycle latency) always have
 * 12 independent chains. fp64 keeps the same 6 rows over 8 doubles. */
#ifndef CCONV_TUNING_H
#define CCONV_TUNING_H

#define CCONV_MR 6
#define CCONV_NR_F32 16
#define CCONV_NR_F64 8

/* The widest gemm / gemm_indirect_a tile of any ISA (AVX-512: 6 x 64 floats,
 * 6 x 32 doubles); workspaces are sized for it, so the kernel set may change
 * between calls. */
#define CCONV_TILE_NR_MAX_F32 64
#define CCONV_TILE_NR_MAX_F64 32

/* Rows of a gemm_indirect_a tile: 6 (AVX2, generic) or 12 (AVX-512, whose
 * 16- and 32-lane tiles need 12 rows of accumulators to keep both FMA units
 * busy); the callers' pointer arrays hold the most. */
#define CCONV_TILE_MR_AVX512 12
#define CCONV_TILE_MR_MAX 12

/* Reduction depth per packed B panel: KC x NR x 4 B = 16 KiB for fp32 keeps
 * the panel in the 32 KiB L1D next to a streaming A panel. */
#define CCONV_KC 256
/* The same for the 64-float tiles of AVX-512: 128 x 64 x 4 B = 32 KiB fits a
 * 48 KiB L1D (256 deep, 1x1 convs ran 1.5x torch's time; 128: 1.2x). */
#define CCONV_KC_WIDE 128
/* The depth for a tile of tile_nr columns (nr: the vector-pair width). */
#define CCONV_KC_FOR_TILE(tile_nr, nr) ((tile_nr) > (nr) ? CCONV_KC_WIDE : CCONV_KC)

/* Forward: pixels per packed im2col block. The KC x NC block (128 KiB fp32)
 * sits in L2 and is walked in NR-wide sub-panels; packing whole blocks rather
 * than NR pixels at a time spreads each row's index work over 128 copies. */
#define CCONV_NC 128

/* Stride-1 direct path: output positions per work item (rows of padded
 * width). 1024 positions x 64 channels of output block = 256 KiB fp32. */
#define CCONV_DIRECT_POSITIONS 1024

/* Stride-1 direct path on the AVX-512 float tile: taps from which it may take
 * channel lanes (fewer: position lanes; see direct_channel_lanes). */
#define CCONV_DIRECT_LANES_MIN_TAPS 48

/* Strided forward through phase planes (conv2d_phases.inc): strides up to
 * this; larger ones gather taps straight from x (im2col_tile). */
#define CCONV_PHASES_MAX_STRIDE 8

/* Strided forward through phase planes with channel lanes: taps per chunk,
 * whatever the tile. A tile's broadcasts come from one or two lines per tap
 * and the next tile reads the same lines, so the chunk's lines of the planes
 * must stay in L1 beside its weights: AVX2's 256 taps (16 KiB of weights,
 * 256+ lines of planes) left neither there; 128 ran 8x128x28x28 K256 stride 2
 * 1.03-1.24x faster (Zen 4 on the AVX2 kernels; 64 or 192: 1.03-1.13x,
 * other stride-2 layers 0.98-1.12x). AVX-512 had 128 already (KC_WIDE). */
#define CCONV_PHASES_LANES_KC 128

/* Stride-1 direct path with channel lanes: taps per weight chunk. A chunk of
 * KC x NR weights (18 KiB fp32) stays in L1 while the tile visits every
 * position of the block. */
#ifndef CCONV_DIRECT_KC
#define CCONV_DIRECT_KC 288
#endif
/* The same for the AVX-512 tiles (64 floats, 32 doubles): four times the
 * taps, 72 KiB of weights that stream from L2 (Zen 4, one chunk of 288 taps
 * for K = 64 instead of four of 72: each extra chunk reloads and stores the
 * output tile; 3x3 K64 layers 1.01-1.09x faster, NHWC and NCHW, 144 or 576
 * taps no better; float64 1.02-1.09x). */
#ifndef CCONV_DIRECT_KC_WIDE
#define CCONV_DIRECT_KC_WIDE 1152
#endif
#define CCONV_DIRECT_KC_FOR_TILE(tile_nr, nr)                                           \
    ((tile_nr) > (nr) ? CCONV_DIRECT_KC_WIDE : CCONV_DIRECT_KC)

/* Weight gradient: "dot" tile of DOT_MR output channels x DOT_NR im2col rows,
 * reduced along PIXEL_BLOCK contiguous output pixels (12 accumulators). */
#define CCONV_DOT_MR 4
#define CCONV_DOT_NR 3
#define CCONV_PIXEL_BLOCK 512

/* Weight gradient of few-channel stride-1 convs (dot_rows): a tile of 6
 * output channels x 4 taps, pixels in the vector lanes. */
#define CCONV_DOT_ROWS_MR 6
#define CCONV_DOT_ROWS_NR 4

/* Weight gradient with channel lanes: pixels per reduction block, so that
 * its dY^T slice (pixels x the tile's columns) stays in L1 across the tap
 * tiles: 256 pixels (x 16 floats: 16 KiB), fewer where the slice would pass
 * LANES_SLICE_BYTES. The 64-float AVX-512 tile thus takes 128 pixels: its
 * 64 KiB slice at 256 streamed from L2 (3x3 weight gradients of the suite
 * 1.04-1.11x faster at 128, 1.04-1.05x at 64). */
#ifndef CCONV_LANES_PIXEL_BLOCK
#define CCONV_LANES_PIXEL_BLOCK 256
#endif
#define CCONV_LANES_SLICE_BYTES 32768

#endif
