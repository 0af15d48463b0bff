/* Machine peaks for the benchmark's "% of peak" columns: FP32 and FP64 FMA
 * throughput and a STREAM-style copy bandwidth, on a given number of threads.
 *
 * Built at run time by cconv/bench/peak.py with the system C compiler
 * (`cc -O2 -fopenmp`); the AVX2/FMA and AVX-512 loops carry target attributes
 * so the rest builds for the baseline ISA and the program still runs (on the
 * widest loop the CPU has, the portable one where AVX2/FMA is missing).
 *
 * Usage: peak THREADS   -> one line of JSON on stdout.
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 12 independent accumulators per thread: an FMA has 4-5 cycles of latency and
 * Zen 2/3 and Haswell+ issue two per cycle, so at least 10 chains must be in
 * flight to keep both pipes busy; 12 leaves a margin and fits in 16 ymm. */
#define CHAINS 12

/* acc = acc * m + a converges to a / (1 - m): no overflow, no denormals. */
__attribute__((target("avx2,fma"))) static double fma_f32_avx2(long iters)
{
    __m256 acc[CHAINS];
    const __m256 m = _mm256_set1_ps(0.999f), a = _mm256_set1_ps(1e-3f);
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_set1_ps((float)j);
    for (long i = 0; i < iters; i++) {
        /* unrolled so the accumulators live in registers, not on the stack */
#pragma GCC unroll 12
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_fmadd_ps(acc[j], m, a);
    }
    float out[8], sum = 0;
    for (int j = 1; j < CHAINS; j++) acc[0] = _mm256_add_ps(acc[0], acc[j]);
    _mm256_storeu_ps(out, acc[0]);
    for (int k = 0; k < 8; k++) sum += out[k];
    return sum;
}

__attribute__((target("avx2,fma"))) static double fma_f64_avx2(long iters)
{
    __m256d acc[CHAINS];
    const __m256d m = _mm256_set1_pd(0.999), a = _mm256_set1_pd(1e-3);
    for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_set1_pd((double)j);
    for (long i = 0; i < iters; i++) {
        /* unrolled so the accumulators live in registers, not on the stack */
#pragma GCC unroll 12
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm256_fmadd_pd(acc[j], m, a);
    }
    double out[4], sum = 0;
    for (int j = 1; j < CHAINS; j++) acc[0] = _mm256_add_pd(acc[0], acc[j]);
    _mm256_storeu_pd(out, acc[0]);
    for (int k = 0; k < 4; k++) sum += out[k];
    return sum;
}

/* AVX-512: twice the lanes, and twice the chains (32 zmm registers), so the
 * peak is that of the 64-wide tiles cconv picks on such CPUs. */
#define CHAINS_512 24

__attribute__((target("avx512f"))) static double fma_f32_avx512(long iters)
{
    __m512 acc[CHAINS_512];
    const __m512 m = _mm512_set1_ps(0.999f), a = _mm512_set1_ps(1e-3f);
    for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_set1_ps((float)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 24
        for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_fmadd_ps(acc[j], m, a);
    }
    for (int j = 1; j < CHAINS_512; j++) acc[0] = _mm512_add_ps(acc[0], acc[j]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx512f"))) static double fma_f64_avx512(long iters)
{
    __m512d acc[CHAINS_512];
    const __m512d m = _mm512_set1_pd(0.999), a = _mm512_set1_pd(1e-3);
    for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_set1_pd((double)j);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 24
        for (int j = 0; j < CHAINS_512; j++) acc[j] = _mm512_fmadd_pd(acc[j], m, a);
    }
    for (int j = 1; j < CHAINS_512; j++) acc[0] = _mm512_add_pd(acc[0], acc[j]);
    return _mm512_reduce_add_pd(acc[0]);
}

/* Without AVX2/FMA: scalar multiply-adds, counted as 2 flops each. */
static double fma_portable(long iters, int lanes)
{
    double acc[CHAINS * 8];
    for (int j = 0; j < CHAINS * lanes; j++) acc[j] = j;
    for (long i = 0; i < iters; i++) {
        for (int j = 0; j < CHAINS * lanes; j++) acc[j] = acc[j] * 0.999 + 1e-3;
    }
    double sum = 0;
    for (int j = 0; j < CHAINS * lanes; j++) sum += acc[j];
    return sum;
}

static volatile double sink;

static double thread_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* GFLOP/s of `threads` threads each running `iters` iterations, best of 5:
 * `oncpu` sums each thread's flops per second of its own CPU time (what the
 * cores can do: FMA units are per core, so this holds even when other
 * processes take turns on them), `wall` divides all flops by the elapsed time
 * (what this process got just now). */
enum isa { PORTABLE, AVX2, AVX512 };

static double fma_run(enum isa isa, int f64, long iters, int lanes)
{
    switch (isa) {
    case AVX512: return f64 ? fma_f64_avx512(iters) : fma_f32_avx512(iters);
    case AVX2: return f64 ? fma_f64_avx2(iters) : fma_f32_avx2(iters);
    default: return fma_portable(iters, lanes);
    }
}

static void fma_gflops(int threads, int f64, enum isa isa, long iters, double *oncpu,
                       double *wall)
{
    const int lanes = (f64 ? 4 : 8) * (isa == AVX512 ? 2 : 1);
    const int chains = isa == AVX512 ? CHAINS_512 : CHAINS;
    const double flops = 2.0 * chains * lanes * (double)iters;  /* per thread */
    *oncpu = *wall = 0;
    for (int rep = 0; rep < 5; rep++) {
        double rate = 0, t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : rate)
        {
            double c0 = thread_seconds();
            double s = fma_run(isa, f64, iters, lanes);
            rate += flops / (thread_seconds() - c0);
#pragma omp atomic
            sink += s;
        }
        double elapsed = omp_get_wtime() - t0;
        if (rate > *oncpu) *oncpu = rate;
        if (flops * threads / elapsed > *wall) *wall = flops * threads / elapsed;
    }
    *oncpu *= 1e-9;
    *wall *= 1e-9;
}

/* STREAM "copy": b[i] = a[i] on arrays 8x the size of a 16 MiB last-level
 * cache, counting bytes read + bytes written (STREAM's convention). Memory
 * bandwidth is shared by the cores, so only the wall-clock rate means
 * anything; best of 10 short repetitions to find a quiet moment. */
static double copy_gbs(int threads, size_t n)
{
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    if (!a || !b) return 0;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) { a[i] = (double)i; b[i] = 0; }  /* first touch */
    double best = 0;
    for (int rep = 0; rep < 10; rep++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++) b[i] = a[i];
        double seconds = omp_get_wtime() - t0;
        double bytes = 2.0 * n * sizeof(double);
        if (bytes / seconds > best) best = bytes / seconds;
    }
    sink += b[n / 2];
    free(a);
    free(b);
    return best * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    if (threads < 1) threads = 1;
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    /* the ISA cconv's kernels pick on this CPU (CCONV_SIMD may narrow it) */
    const char *simd = getenv("CCONV_SIMD");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                 !(simd && (strcmp(simd, "avx2") == 0 || strcmp(simd, "generic") == 0));
    if (simd && strcmp(simd, "generic") == 0) avx2 = 0;
    enum isa isa = avx512 ? AVX512 : (avx2 ? AVX2 : PORTABLE);
    /* ~0.05 s per repetition at 3 GHz with two FMAs per cycle */
    long iters = isa == AVX512 ? 3000000L : (avx2 ? 12500000L : 1000000L);
    double f32, f32_wall, f64, f64_wall;
    fma_gflops(threads, 0, isa, iters, &f32, &f32_wall);
    fma_gflops(threads, 1, isa, iters, &f64, &f64_wall);
    double copy = copy_gbs(threads, (size_t)8 << 20);  /* 2 x 64 MiB */
    printf("{\"threads\": %d, \"isa\": \"%s\", \"fp32_gflops\": %.2f, "
           "\"fp64_gflops\": %.2f, \"fp32_gflops_wall\": %.2f, \"fp64_gflops_wall\": %.2f, "
           "\"copy_gbs\": %.2f}\n",
           threads, isa == AVX512 ? "avx512" : (avx2 ? "avx2-fma" : "portable"), f32, f64,
           f32_wall, f64_wall, copy);
    return 0;
}
