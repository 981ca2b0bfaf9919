/* CPU kernels for scaling.training.model.forward_stack and Adam, fp32. native_build.py builds this file on
   first use and loads it through ctypes; native.py says why each kernel exists. Each kernel runs on OpenMP
   (torch's own libgomp team), a thread to a contiguous part of the batch.

   Layouts (M models of width c, c2 = 2c, batch B; "NHWC" is torch's channels_last):
     conv1 input  x  [M][B][28][28], or [B][28][28] shared by all models (x_mstride = 0)
     conv1 weight    [M][9][c] (tap-major; its gradient [M][9][cp], cp = c padded to whole vectors of V), bias [M][c]
     stage-1 out  y  [B][14][14][M*c]        conv1 -> 2x2 max-pool -> +bias -> ReLU (NHWC)
     conv2 out    h  [B][14][14][M*c2]       (NHWC, from oneDNN's grouped conv)
     stage-2 out  z  [M][B][c2][7][7]        2x2 max-pool -> +bias -> ReLU, in nn.Flatten order
   Pooling keeps the first maximum of each window in (0,0) (0,1) (1,0) (1,1) order, as
   torch.nn.functional.max_pool2d does; `slot` records which one (0..3) for the backward pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h> /* the same libgomp torch runs on: one team of threads, no two pools fighting */
#else
static int omp_get_max_threads(void) { return 1; }
static int omp_get_num_threads(void) { return 1; }
static int omp_get_thread_num(void) { return 0; }
#endif

/* V, the floats in a vector, is set by the build (native_build.py) for the instruction set it targets:
   16 for AVX-512, 8 for AVX2 + FMA, 4 for the portable build (SSE2 on x86, NEON on ARM). The
   kernels run over V channels at a time, and the layouts padded to whole vectors are read from
   vector_width() by the Python side, never assumed there. */
#ifndef V
#define V 16
#endif
#if V != 4 && V != 8 && V != 16
#error "V must be 4, 8 or 16"
#endif

/* GCC/Clang vector extensions: the compiler maps them to the machine's SIMD registers. */
typedef float vf __attribute__((vector_size(4 * V)));
typedef int32_t vi __attribute__((vector_size(4 * V)));
typedef uint8_t vb __attribute__((vector_size(V)));

int vector_width(void) { return V; }

static inline vf splat(float s) { return s - (vf){0}; } /* a scalar operand is broadcast */

static inline vf blend(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }

static inline vf loadu(const float *p) { vf r; memcpy(&r, p, sizeof r); return r; } /* one unaligned move */
static inline void storeu(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* The first n lanes (1..V) of a vector: a plain move when the vector is full, else the ISA's own
   masked load and store (AVX-512, AVX2), lane by lane only in the portable build. */
#if V == 16 && defined(__AVX512F__)
#include <immintrin.h>
static inline vf load_n(const float *p, int n) { return (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p); }
static inline void store_n(float *p, vf v, int n) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v); }
#elif V == 8 && defined(__AVX2__)
#include <immintrin.h>
static const int32_t LANES[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i lanes(int n) { return _mm256_loadu_si256((const __m256i *)(LANES + 8 - n)); }
static inline vf load_n(const float *p, int n) { return n == V ? loadu(p) : (vf)_mm256_maskload_ps(p, lanes(n)); }
static inline void store_n(float *p, vf v, int n) {
    if (n == V) storeu(p, v);
    else _mm256_maskstore_ps(p, lanes(n), (__m256)v);
}
#else
static inline vf load_n(const float *p, int n) {
    if (n == V) return loadu(p);
    vf r = {0};
    for (int l = 0; l < n; l++) r[l] = p[l];
    return r;
}
static inline void store_n(float *p, vf v, int n) {
    if (n == V) return storeu(p, v);
    for (int l = 0; l < n; l++) p[l] = v[l];
}
#endif

/* Slot numbers (0..3) as bytes, n lanes. */
#if V == 16 && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
static inline void store_slots(uint8_t *p, vi v, int n) {
    _mm_mask_storeu_epi8(p, (__mmask16)((1u << n) - 1), _mm512_cvtepi32_epi8((__m512i)v));
}
static inline vi load_slots(const uint8_t *p, int n) {
    return (vi)_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8((__mmask16)((1u << n) - 1), p));
}
#else
static inline void store_slots(uint8_t *p, vi v, int n) {
    vb s = __builtin_convertvector(v, vb);
    memcpy(p, &s, n == V ? V : (size_t)n);
}
static inline vi load_slots(const uint8_t *p, int n) {
    vb s = {0};
    memcpy(&s, p, n == V ? V : (size_t)n);
    return __builtin_convertvector(s, vi);
}
#endif

/* The backward pass keeps 9 weight-gradient accumulators in registers; it also keeps the 9
   weight vectors there where the ISA has 32 vector registers (AVX-512, ARM). With 16 (AVX2, SSE),
   18 vectors would spill: the weights are read from L1 instead, as a memory operand of the FMA. */
#if defined(__AVX512F__) || defined(__aarch64__)
#define WEIGHTS_IN_REGISTERS 1
#else
#define WEIGHTS_IN_REGISTERS 0
#endif

/* Stage 1 vectorizes over output channels, up to V at a time: a tap is one multiply-add of V
   weights by one input pixel, and the outputs of a pixel are contiguous in NHWC, so they are
   stored as one vector (conv_backward_range reads them back the same way). xp is the image with a zero border:
   xp[r][q] = x[r - 1][q - 1]; conv output (2i + di, 2j + dj), tap (ty, tx) reads
   xp[2i + di + ty][2j + dj + tx]. */
static void pad(const float *x, float xp[30][30]) {
    memset(xp, 0, sizeof(float) * 900);
    for (int r = 0; r < 28; r++) memcpy(&xp[r + 1][1], x + r * 28, 28 * sizeof(float));
}

static void stage1_forward_range(const float *x, int64_t x_mstride, const float *w, const float *bias,
                                 float *y, uint8_t *slot, int M, int c, int b0, int b1) {
    float xp[30][30];
    int64_t mc = (int64_t)M * c;
    for (int b = b0; b < b1; b++)
        for (int m = 0; m < M; m++) {
            pad(x + m * x_mstride + (int64_t)b * 784, xp);
            for (int k0 = 0; k0 < c; k0 += V) {
                int n = c - k0 < V ? c - k0 : V;
                vf W[9];
                for (int t = 0; t < 9; t++) W[t] = load_n(w + ((int64_t)m * 9 + t) * c + k0, n);
                vf bv = load_n(bias + (int64_t)m * c + k0, n);
                for (int i = 0; i < 14; i++)
                    for (int j = 0; j < 14; j++) {
                        vf best = {0};
                        vi arg = {0};
                        for (int s = 0; s < 4; s++) { /* one window position live at a time: fewer registers */
                            int r = 2 * i + (s >> 1), q = 2 * j + (s & 1);
                            vf acc = W[0] * xp[r][q];
                            for (int t = 1; t < 9; t++) acc += W[t] * xp[r + t / 3][q + t % 3];
                            if (s == 0) {
                                best = acc;
                                continue;
                            }
                            vi gt = (acc > best) | (acc != acc); /* strict >: the first maximum wins ties; a NaN wins, as in torch */
                            best = blend(gt, acc, best);
                            arg = (gt & s) | (arg & ~gt);
                        }
                        vf v = best + bv;
                        int64_t at = ((int64_t)b * 196 + i * 14 + j) * mc + (int64_t)m * c + k0;
                        store_n(y + at, blend(v < 0, splat(0), v), n); /* NaN passes, as in torch.relu */
                        if (slot) store_slots(slot + at, arg, n);
                    }
            }
        }
}

/* Stage 2 works on chunks of up to V channels of one model and one image: 49 pooled vectors
   read from (or written to) NHWC, and their transposes written to (or read from) z, where each
   channel's 7x7 plane is contiguous. */
static void stage2_forward_range(const float *h, const float *bias, float *z, uint8_t *slot,
                    int B, int M, int c2, int b0, int b1) {
    vf T[49];
    vi S[49];
    int64_t mc = (int64_t)M * c2;
    for (int b = b0; b < b1; b++)
        for (int m = 0; m < M; m++)
            for (int k0 = 0; k0 < c2; k0 += V) {
                int n = c2 - k0 < V ? c2 - k0 : V;
                int64_t ch = (int64_t)m * c2 + k0;
                vf bv = load_n(bias + ch, n);
                for (int p = 0; p < 49; p++) {
                    const float *p0 = h + ((int64_t)b * 196 + (p / 7) * 28 + (p % 7) * 2) * mc + ch;
                    vf v = load_n(p0, n), q;
                    vi s = {0}, gt;
                    q = load_n(p0 + mc, n); gt = (q > v) | (q != q); v = blend(gt, q, v); s = (gt & 1) | (s & ~gt);
                    q = load_n(p0 + 14 * mc, n); gt = (q > v) | (q != q); v = blend(gt, q, v); s = (gt & 2) | (s & ~gt);
                    q = load_n(p0 + 15 * mc, n); gt = (q > v) | (q != q); v = blend(gt, q, v); s = (gt & 3) | (s & ~gt);
                    v += bv;
                    T[p] = blend(v < 0, splat(0), v);
                    S[p] = s;
                }
                for (int l = 0; l < n; l++) {
                    int64_t at = ((int64_t)m * B + b) * c2 * 49 + (int64_t)(k0 + l) * 49;
                    for (int p = 0; p < 49; p++) {
                        z[at + p] = T[p][l];
                        if (slot) slot[at + p] = (uint8_t)S[p][l];
                    }
                }
            }
}

/* Stage 2 with conv2 in it: conv2 -> 2x2 max-pool -> +bias -> ReLU, never storing conv2's
   full-resolution output. Vectors run over output channels, NB of them at a time (16 or 8
   accumulators: one per vector and window position, as many as the ISA's registers hold beside the
   weights); an input pixel's channel is one scalar broadcast against NB weight vectors, and each
   weight vector serves the window's 4 positions. The model's stage-1 output is copied into a
   16 x 16 tile with a zero border, so the 3x3 taps need no bounds checks. w2 is [M][9][c][c2p]
   (tap, input channel, output channel padded to whole vectors). A model's sums run in an order
   that does not depend on the other models of its stack. */
/* Loaded once into a register: left alone, gcc folds the load into each of the 4 FMAs that use
   it, and the loop then waits on the load ports, not the FMA units. */
#if defined(__AVX512F__)
#define IN_REGISTER(v) __asm__("" : "+v"(v))
#elif defined(__x86_64__)
#define IN_REGISTER(v) __asm__("" : "+x"(v))
#elif defined(__aarch64__)
#define IN_REGISTER(v) __asm__("" : "+w"(v))
#else
#define IN_REGISTER(v) (void)0
#endif

#ifndef NB
#if WEIGHTS_IN_REGISTERS
#define NB 4
#else
#define NB 2
#endif
#endif

static inline __attribute__((always_inline)) void conv2_pool_group(
        const float *yt, const float *w, int c, int c2p, int k2, int nv, vf T[49][NB], vi S[49][NB]) {
    for (int p = 0; p < 49; p++) {
        int i = p / 7, j = p % 7;
        vf acc[4][NB];
        for (int s = 0; s < 4; s++)
            for (int u = 0; u < nv; u++) acc[s][u] = (vf){0};
        for (int t = 0; t < 9; t++) {
            const float *x0 = yt + ((2 * i + t / 3) * 16 + 2 * j + t % 3) * c; /* window position (0,0), tap t */
            const float *wt = w + (int64_t)t * c * c2p + k2;
            for (int k = 0; k < c; k++) {
                vf wv[NB];
                for (int u = 0; u < nv; u++) {
                    wv[u] = *(const vf *)(wt + (int64_t)k * c2p + u * V);
                    IN_REGISTER(wv[u]);
                }
                float a0 = x0[k], a1 = x0[c + k], a2 = x0[16 * c + k], a3 = x0[17 * c + k];
                for (int u = 0; u < nv; u++) {
                    acc[0][u] += a0 * wv[u];
                    acc[1][u] += a1 * wv[u];
                    acc[2][u] += a2 * wv[u];
                    acc[3][u] += a3 * wv[u];
                }
            }
        }
        for (int u = 0; u < nv; u++) {
            vf best = acc[0][u];
            vi arg = {0};
            for (int s = 1; s < 4; s++) { /* strict >: the first maximum wins ties; a NaN wins, as in torch */
                vi gt = (acc[s][u] > best) | (acc[s][u] != acc[s][u]);
                best = blend(gt, acc[s][u], best);
                arg = (gt & s) | (arg & ~gt);
            }
            T[p][u] = best;
            S[p][u] = arg;
        }
    }
}

static void stage2_conv_range(const float *y, const float *w2, const float *bias, float *z, uint8_t *slot,
                              int B, int M, int c, int c2, int c2p, int b0, int b1) {
    int64_t mc = (int64_t)M * c;
    float *yt = aligned_alloc(sizeof(vf), (sizeof(float) * 256 * c + sizeof(vf) - 1) / sizeof(vf) * sizeof(vf));
    vf(*T)[NB] = aligned_alloc(sizeof(vf), sizeof(vf) * 49 * NB);
    vi(*S)[NB] = aligned_alloc(sizeof(vf), sizeof(vi) * 49 * NB);
    if (!yt || !T || !S) abort();
    memset(yt, 0, sizeof(float) * 256 * c);
    for (int b = b0; b < b1; b++)
        for (int m = 0; m < M; m++) {
            for (int r = 0; r < 14; r++) /* tile pixel (r + 1, q + 1) = stage-1 pixel (r, q); the border stays 0 */
                for (int q = 0; q < 14; q++)
                    memcpy(yt + ((r + 1) * 16 + q + 1) * c, y + ((int64_t)b * 196 + r * 14 + q) * mc + (int64_t)m * c, sizeof(float) * c);
            const float *w = w2 + (int64_t)m * 9 * c * c2p;
            for (int k2 = 0; k2 < c2; k2 += NB * V) {
                int nv = (c2 - k2 + V - 1) / V;
                nv = nv < NB ? nv : NB;
                switch (nv) { /* constant counts: each case compiles to fully unrolled register blocks */
                case 1: conv2_pool_group(yt, w, c, c2p, k2, 1, T, S); break;
                case 2: conv2_pool_group(yt, w, c, c2p, k2, 2, T, S); break;
#if NB > 2
                case 3: conv2_pool_group(yt, w, c, c2p, k2, 3, T, S); break;
#endif
#if NB > 3
                case 4: conv2_pool_group(yt, w, c, c2p, k2, 4, T, S); break;
#endif
                }
                for (int u = 0; u < nv; u++) {
                    int k0 = k2 + u * V, n = c2 - k0 < V ? c2 - k0 : V;
                    vf bv = load_n(bias + (int64_t)m * c2 + k0, n);
                    for (int p = 0; p < 49; p++) {
                        vf v = T[p][u] + bv;
                        T[p][u] = blend(v < 0, splat(0), v); /* NaN passes, as in torch.relu */
                    }
                    for (int l = 0; l < n; l++) { /* each channel's 7x7 plane is contiguous in z */
                        int64_t at = ((int64_t)m * B + b) * c2 * 49 + (int64_t)(k0 + l) * 49;
                        for (int p = 0; p < 49; p++) {
                            z[at + p] = T[p][u][l];
                            if (slot) slot[at + p] = (uint8_t)S[p][u][l];
                        }
                    }
                }
            }
        }
    free(yt);
    free(T);
    free(S);
}

/* Inverted-dropout multipliers [M][n]: 1/keep or 0, from model.dropout_uniform's hash (lowbias32
   of base[m] + position, top 24 bits as a uniform in [0, 1)), bit for bit. */
void dropout_scale(const int64_t *base, const float *keep, float *out, int M, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) {
        float k = keep[m], inv = 1.0f / k;
        float *o = out + (int64_t)m * n;
        for (int64_t q = 0; q < n; q++) {
            uint32_t h = (uint32_t)base[m] + (uint32_t)q;
            h ^= h >> 16;
            h *= 0x7FEB352Du;
            h ^= h >> 15;
            h *= 0x846CA68Bu;
            h ^= h >> 16;
            float u = (float)(h >> 8) * (1.0f / 16777216.0f);
            o[q] = u < k ? inv : 0.0f;
        }
    }
}

/* torch.optim.Adam's update of one parameter tensor (n elements) in one pass, as optim.adam does
   it with torch ops: lr holds each element's learning rate; w1 = 1 - beta1 and w2 = 1 - beta2 (in
   double, then rounded, as torch rounds its scalars), bc1 = 1 - beta1^step and
   bc2_sqrt = sqrt(1 - beta2^step). */
void adam(float *p, const float *g, float *m1, float *m2, const float *lr, int64_t n,
          float beta2, float w1, float w2, float bc1, float bc2_sqrt, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float a = m1[i] + w1 * (gi - m1[i]); /* lerp, as torch computes it for weight < 0.5 */
        float v = m2[i] * beta2 + w2 * (gi * gi);
        m1[i] = a;
        m2[i] = v;
        float denom = __builtin_sqrtf(v) / bc2_sqrt + eps;
        p[i] -= a / denom * lr[i] / bc1;
    }
}

/* The backward pass of both conv blocks in one, image by image: from the gradient of z straight to
   the gradients of conv2's weight gw2 and bias gb2, then of conv1's weight gw1 and bias gb1 (the
   images need none). Neither conv2's output gradient nor its input gradient is ever stored.

   conv2: only the maximum of each pooling window passed a gradient, and only where ReLU was open:
   few conv2 outputs have a nonzero gradient (fewer as training goes on), so this walks those
   instead of handing conv2's dense backward a gradient of zeros.
   For one image, model and output channel k2, the 9 weight vectors and the 9 weight-gradient
   accumulators stay in registers while the channel's 49 pooled pixels are walked; each nonzero
   one adds its 3x3 input patch to the weight gradient and its weights to the 3x3 neighbourhood of
   the input gradient. Vectors run over conv2's input channels, padded to cp, a multiple of V (w2,
   gw2 and gw1 are [..][9][cp]); the model's stage-1 output and its gradient live in 16 x 16 tiles
   with a zero border while its image is done, so every access is a whole, aligned vector.
   conv1: the stage-1 gradient tile, through ReLU (stage 1's output > 0) and the window maximum
   (slot1), meets the 9 taps of the image at that position. */
static void conv_backward_range(const float *x, int64_t x_mstride, const float *y, const uint8_t *slot1,
                                const float *w2, const float *z, const uint8_t *slot2, const float *gz,
                                float *gw1, float *gb1, float *gw2, float *gb2,
                                int B, int M, int c, int c2, int b0, int b1) {
    int64_t mc = (int64_t)M * c;
    int cp = (c + V - 1) / V * V;
    float xp[30][30];
    float *yt = aligned_alloc(sizeof(vf), sizeof(float) * 256 * cp), *gt = aligned_alloc(sizeof(vf), sizeof(float) * 256 * cp);
    if (!yt || !gt) abort();
#define TILE(p, r, q, k0) ((vf *)((p) + ((int64_t)(r) * 16 + (q)) * cp + (k0))) /* tile pixel (r - 1, q - 1) */
    for (int b = b0; b < b1; b++)
        for (int m = 0; m < M; m++) {
            memset(yt, 0, sizeof(float) * 256 * cp);
            memset(gt, 0, sizeof(float) * 256 * cp);
            for (int r = 0; r < 14; r++)
                for (int q = 0; q < 14; q++)
                    for (int k0 = 0; k0 < c; k0 += V)
                        *TILE(yt, r + 1, q + 1, k0) = load_n(y + ((int64_t)b * 196 + r * 14 + q) * mc + (int64_t)m * c + k0, c - k0 < V ? c - k0 : V);
            for (int k2 = 0; k2 < c2; k2++) { /* conv2 */
                int64_t at = (((int64_t)m * B + b) * c2 + k2) * 49; /* this channel's 7 x 7 pooled plane */
                float gsum = 0.0f;
                for (int k0 = 0; k0 < cp; k0 += V) {
                    int64_t kk = ((int64_t)m * c2 + k2) * 9 * cp + k0;
                    vf G[9];
#if WEIGHTS_IN_REGISTERS
                    vf W[9];
                    for (int t = 0; t < 9; t++) W[t] = *(const vf *)(w2 + kk + t * cp);
#else
                    const vf *W = (const vf *)(w2 + kk); /* W[t * cp / V]: a memory operand */
#endif
                    for (int t = 0; t < 9; t++) G[t] = *(vf *)(gw2 + kk + t * cp);
                    for (int p = 0; p < 49; p++) {
                        float g = z[at + p] > 0.0f ? gz[at + p] : 0.0f;
                        if (g == 0.0f) continue; /* ReLU closed: most of them */
                        if (k0 == 0) gsum += g;
                        int s = slot2[at + p];
                        int oy = 2 * (p / 7) + (s >> 1), ox = 2 * (p % 7) + (s & 1); /* the conv2 output that won */
                        for (int t = 0; t < 9; t++) { /* input pixel (oy + ty - 1, ox + tx - 1): tile (oy + ty, ox + tx) */
                            G[t] += g * *TILE(yt, oy + t / 3, ox + t % 3, k0);
#if WEIGHTS_IN_REGISTERS
                            *TILE(gt, oy + t / 3, ox + t % 3, k0) += g * W[t];
#else
                            *TILE(gt, oy + t / 3, ox + t % 3, k0) += g * W[t * cp / V];
#endif
                        }
                    }
                    for (int t = 0; t < 9; t++) *(vf *)(gw2 + kk + t * cp) = G[t];
                }
                gb2[(int64_t)m * c2 + k2] += gsum;
            }
            pad(x + m * x_mstride + (int64_t)b * 784, xp); /* conv1 */
            for (int k0 = 0; k0 < cp; k0 += V) {
                int n = c - k0 < V ? c - k0 : V;
                float *gwm = gw1 + (int64_t)m * 9 * cp + k0, *gbm = gb1 + (int64_t)m * cp + k0;
                vf G[9], gsum = *(vf *)gbm;
                for (int t = 0; t < 9; t++) G[t] = *(vf *)(gwm + t * cp);
                for (int i = 0; i < 14; i++)
                    for (int j = 0; j < 14; j++) {
                        vf g = *TILE(gt, i + 1, j + 1, k0);
                        g = (vf)((vi)g & (*TILE(yt, i + 1, j + 1, k0) > 0)); /* ReLU passed it */
                        vi sl = load_slots(slot1 + ((int64_t)b * 196 + i * 14 + j) * mc + (int64_t)m * c + k0, n);
                        gsum += g;
                        for (int s = 0; s < 4; s++) {
                            vf gs = (vf)((vi)g & (sl == s));
                            int r = 2 * i + (s >> 1), q = 2 * j + (s & 1);
                            for (int t = 0; t < 9; t++) G[t] += gs * xp[r + t / 3][q + t % 3];
                        }
                    }
                for (int t = 0; t < 9; t++) *(vf *)(gwm + t * cp) = G[t];
                *(vf *)gbm = gsum;
            }
        }
#undef TILE
    free(yt);
    free(gt);
}

/* The exported kernels: each thread of the OpenMP team takes a contiguous part of the batch;
   gradients are summed per thread, then across threads in a fixed order. */
#define PART(n) int t_ = omp_get_thread_num(), n_ = omp_get_num_threads(), lo = (n) * t_ / n_, hi = (n) * (t_ + 1) / n_

void stage1_forward(const float *x, int64_t x_mstride, const float *w, const float *bias,
                    float *y, uint8_t *slot, int M, int c, int B) {
#pragma omp parallel
    {
        PART(B);
        stage1_forward_range(x, x_mstride, w, bias, y, slot, M, c, lo, hi);
    }
}

static void reduce(float *dst, const float *parts, int nparts, int64_t n) {
    for (int t = 0; t < nparts; t++)
        for (int64_t i = 0; i < n; i++) dst[i] += parts[t * n + i];
}

void stage2_forward(const float *h, const float *bias, float *z, uint8_t *slot, int B, int M, int c2) {
#pragma omp parallel
    {
        PART(B);
        stage2_forward_range(h, bias, z, slot, B, M, c2, lo, hi);
    }
}

void stage2_conv(const float *y, const float *w2, const float *bias, float *z, uint8_t *slot,
                 int B, int M, int c, int c2, int c2p) {
#pragma omp parallel
    {
        PART(B);
        stage2_conv_range(y, w2, bias, z, slot, B, M, c, c2, c2p, lo, hi);
    }
}

void conv_backward(const float *x, int64_t x_mstride, const float *y, const uint8_t *slot1,
                   const float *w2, const float *z, const uint8_t *slot2, const float *gz,
                   float *gw1, float *gb1, float *gw2, float *gb2, int B, int M, int c, int c2) {
    int T = omp_get_max_threads();
    int64_t cp = (c + V - 1) / V * V;
    int64_t n[4] = {M * 9 * cp, M * cp, M * c2 * 9 * cp, (int64_t)M * c2}; /* gw1, gb1, gw2, gb2 */
    float *part[4], *out[4] = {gw1, gb1, gw2, gb2};
    for (int i = 0; i < 4; i++) {
        part[i] = aligned_alloc(sizeof(vf), ((sizeof(float) * T * n[i] + sizeof(vf) - 1) / sizeof(vf)) * sizeof(vf));
        if (!part[i]) abort();
        memset(part[i], 0, sizeof(float) * T * n[i]);
    }
#pragma omp parallel num_threads(T)
    {
        PART(B);
        conv_backward_range(x, x_mstride, y, slot1, w2, z, slot2, gz, part[0] + t_ * n[0], part[1] + t_ * n[1],
                            part[2] + t_ * n[2], part[3] + t_ * n[3], B, M, c, c2, lo, hi);
    }
    for (int i = 0; i < 4; i++) {
        reduce(out[i], part[i], T, n[i]);
        free(part[i]);
    }
}
