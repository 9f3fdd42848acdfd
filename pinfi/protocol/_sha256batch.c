/*
 * Batch SHA-256 for the PinFi Merkle commitment (docs/protocol.md#leaves-nodes-and-the-root).
 *
 * hashlib costs about a microsecond of interpreter overhead per call and the tree at n = 4096,
 * L = 32 needs a million calls, so the prover spent as long hashing as multiplying. This module
 * hashes a whole level per call, with the GIL released so Python threads can split the work:
 *
 *   leaves(data, leaf, out)  out[i] = sha256(0x00 || leaf i as 4L bytes of big-endian uint32)
 *   nodes(children, out)     out[i] = sha256(0x01 || children[2i] || children[2i+1])
 *
 * `data` is any C-contiguous buffer of entries: float32 (integer valued, as the fp32 product
 * is), native or big-endian uint32, or raw bytes already in big-endian order. `children` and
 * `out` are byte buffers (numpy uint8 arrays, bytearray, ...). No copies of the inputs are made.
 *
 * SHA-256 is plain C99; on x86-64 the SHA extensions (SHA-NI) are used when the CPU has them,
 * checked at import with CPUID. `backend()` says which one is in use; `set_backend("portable")`
 * forces the portable code (tests compare both).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PINFI_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Compress `nblocks` consecutive 64-byte blocks into `state`. */
typedef void (*compress_fn)(uint32_t state[8], const uint8_t *data, size_t nblocks);

/* ---------------------------------------------------------------------------- portable C99 */

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void compress_portable(uint32_t state[8], const uint8_t *data, size_t nblocks) {
    uint32_t w[64];
    for (; nblocks; nblocks--, data += 64) {
        for (int i = 0; i < 16; i++) w[i] = load_be32(data + 4 * i);
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) +
                          K256[i] + w[i];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

/* ------------------------------------------------------------------- x86-64 SHA extensions */

#ifdef PINFI_SHANI
__attribute__((target("sha,sse4.1,ssse3"))) static void
compress_shani(uint32_t state[8], const uint8_t *data, size_t nblocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);    /* a b c d (lane 0 = a) */
    __m128i st1 = _mm_loadu_si128((const __m128i *)&state[4]);    /* e f g h */
    tmp = _mm_shuffle_epi32(tmp, 0xB1);                           /* b a d c */
    st1 = _mm_shuffle_epi32(st1, 0x1B);                           /* h g f e */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);                   /* f e b a: "ABEF" */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);                        /* h g d c: "CDGH" */
    for (; nblocks; nblocks--, data += 64) {
        const __m128i save0 = st0, save1 = st1;
        __m128i w[4];
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            __m128i cur;
            if (g < 4) {
                cur = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * g)), bswap);
            } else {
                /* W[t] = W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2]), four words at a time */
                __m128i t = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                cur = _mm_sha256msg2_epu32(t, w[(g + 3) & 3]);
            }
            w[g & 3] = cur;
            __m128i msg = _mm_add_epi32(cur, _mm_loadu_si128((const __m128i *)&K256[4 * g]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
            msg = _mm_shuffle_epi32(msg, 0x0E);
            st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
        }
        st0 = _mm_add_epi32(st0, save0);
        st1 = _mm_add_epi32(st1, save1);
    }
    tmp = _mm_shuffle_epi32(st0, 0x1B);                           /* a b e f -> lanes */
    st1 = _mm_shuffle_epi32(st1, 0xB1);
    st0 = _mm_blend_epi16(tmp, st1, 0xF0);                        /* a b c d */
    st1 = _mm_alignr_epi8(st1, tmp, 8);                           /* e f g h */
    _mm_storeu_si128((__m128i *)&state[0], st0);
    _mm_storeu_si128((__m128i *)&state[4], st1);
}

/* Two independent messages of `nblocks` blocks each, interleaved: one message's rounds are a
 * serial chain bound by the latency of SHA256RNDS2, so a second chain fills the idle issue slots
 * (up to twice the throughput on cores that issue one per cycle). */
__attribute__((target("sha,sse4.1,ssse3"))) static void
compress2_shani(uint32_t sa[8], const uint8_t *da, uint32_t sb[8], const uint8_t *db,
                size_t nblocks) {
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i ta = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sa[0]), 0xB1);
    __m128i a1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sa[4]), 0x1B);
    __m128i a0 = _mm_alignr_epi8(ta, a1, 8);
    a1 = _mm_blend_epi16(a1, ta, 0xF0);
    __m128i tb = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sb[0]), 0xB1);
    __m128i b1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&sb[4]), 0x1B);
    __m128i b0 = _mm_alignr_epi8(tb, b1, 8);
    b1 = _mm_blend_epi16(b1, tb, 0xF0);
    for (; nblocks; nblocks--, da += 64, db += 64) {
        const __m128i sa0 = a0, sa1 = a1, sb0 = b0, sb1 = b1;
        __m128i wa[4], wb[4];
#pragma GCC unroll 16
        for (int g = 0; g < 16; g++) {
            __m128i ca, cb;
            if (g < 4) {
                ca = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(da + 16 * g)), bswap);
                cb = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(db + 16 * g)), bswap);
            } else {
                __m128i t = _mm_sha256msg1_epu32(wa[g & 3], wa[(g + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(wa[(g + 3) & 3], wa[(g + 2) & 3], 4));
                ca = _mm_sha256msg2_epu32(t, wa[(g + 3) & 3]);
                __m128i u = _mm_sha256msg1_epu32(wb[g & 3], wb[(g + 1) & 3]);
                u = _mm_add_epi32(u, _mm_alignr_epi8(wb[(g + 3) & 3], wb[(g + 2) & 3], 4));
                cb = _mm_sha256msg2_epu32(u, wb[(g + 3) & 3]);
            }
            wa[g & 3] = ca;
            wb[g & 3] = cb;
            const __m128i k = _mm_loadu_si128((const __m128i *)&K256[4 * g]);
            __m128i ma = _mm_add_epi32(ca, k);
            __m128i mb = _mm_add_epi32(cb, k);
            a1 = _mm_sha256rnds2_epu32(a1, a0, ma);
            b1 = _mm_sha256rnds2_epu32(b1, b0, mb);
            ma = _mm_shuffle_epi32(ma, 0x0E);
            mb = _mm_shuffle_epi32(mb, 0x0E);
            a0 = _mm_sha256rnds2_epu32(a0, a1, ma);
            b0 = _mm_sha256rnds2_epu32(b0, b1, mb);
        }
        a0 = _mm_add_epi32(a0, sa0);
        a1 = _mm_add_epi32(a1, sa1);
        b0 = _mm_add_epi32(b0, sb0);
        b1 = _mm_add_epi32(b1, sb1);
    }
    ta = _mm_shuffle_epi32(a0, 0x1B);
    a1 = _mm_shuffle_epi32(a1, 0xB1);
    _mm_storeu_si128((__m128i *)&sa[0], _mm_blend_epi16(ta, a1, 0xF0));
    _mm_storeu_si128((__m128i *)&sa[4], _mm_alignr_epi8(a1, ta, 8));
    tb = _mm_shuffle_epi32(b0, 0x1B);
    b1 = _mm_shuffle_epi32(b1, 0xB1);
    _mm_storeu_si128((__m128i *)&sb[0], _mm_blend_epi16(tb, b1, 0xF0));
    _mm_storeu_si128((__m128i *)&sb[4], _mm_alignr_epi8(b1, tb, 8));
}

static int cpu_has_shani(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
}
#endif

/* Two messages of the same length at once (the SHA-NI code interleaves them). */
typedef void (*compress2_fn)(uint32_t sa[8], const uint8_t *da, uint32_t sb[8],
                             const uint8_t *db, size_t nblocks);

static void compress2_portable(uint32_t sa[8], const uint8_t *da, uint32_t sb[8],
                               const uint8_t *db, size_t nblocks) {
    compress_portable(sa, da, nblocks);
    compress_portable(sb, db, nblocks);
}

static compress_fn compress = compress_portable;
static compress2_fn compress2 = compress2_portable;
static const char *backend_name = "portable";

/* ------------------------------------------------------------------------- message layout */

static void digest_out(const uint32_t state[8], uint8_t *out) {
    for (int i = 0; i < 8; i++) store_be32(out + 4 * i, state[i]);
}

/* Pad a message of `len` bytes sitting at the start of `buf` (which has room for 72 more bytes);
 * returns the number of 64-byte blocks. */
static size_t pad(uint8_t *buf, size_t len) {
    size_t blocks = (len + 9 + 63) / 64;
    size_t total = 64 * blocks;
    buf[len] = 0x80;
    memset(buf + len + 1, 0, total - len - 1 - 8);
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) buf[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    return blocks;
}

enum kind { K_BYTES, K_U32_NATIVE, K_U32_BE, K_F32 };

static int is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* Write `count` entries of `src` as big-endian uint32 at `dst`. */
static void entries_be(uint8_t *dst, const uint8_t *src, size_t count, enum kind k) {
    if (k == K_BYTES || k == K_U32_BE) {
        memcpy(dst, src, 4 * count);
    } else if (k == K_U32_NATIVE) {
        for (size_t i = 0; i < count; i++) {
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            store_be32(dst + 4 * i, v);
        }
    } else { /* K_F32: integer-valued float32 (the fp32 product); out-of-range values give 0 */
        for (size_t i = 0; i < count; i++) {
            float f;
            memcpy(&f, src + 4 * i, 4);
            uint32_t v = (f >= 0.0f && f < 4294967296.0f) ? (uint32_t)f : 0u;
            store_be32(dst + 4 * i, v);
        }
    }
}

/* out[i] = sha256(0x00 || 4*leaf bytes of leaf i); `src` holds n_leaves * leaf entries. */
static int hash_leaves(const uint8_t *src, size_t n_leaves, size_t leaf, enum kind k,
                       uint8_t *out) {
    size_t msg_len = 1 + 4 * leaf;
    size_t room = (msg_len + 72 + 63) / 64 * 64;
    uint8_t stack_buf[2 * ((1 + 4 * 256 + 72 + 63) / 64 * 64)];
    uint8_t *buf = stack_buf;
    if (2 * room > sizeof stack_buf) {
        buf = (uint8_t *)malloc(2 * room);
        if (!buf) return -1;
    }
    uint8_t *buf2 = buf + room;
    buf[0] = buf2[0] = 0x00;
    size_t blocks = pad(buf, msg_len); /* the padding after the message is the same for all */
    pad(buf2, msg_len);
    const size_t stride = 4 * leaf;
    uint32_t st[8], st2[8];
    size_t i = 0;
    for (; i + 2 <= n_leaves; i += 2) {
        entries_be(buf + 1, src + stride * i, leaf, k);
        entries_be(buf2 + 1, src + stride * (i + 1), leaf, k);
        memcpy(st, IV, sizeof st);
        memcpy(st2, IV, sizeof st2);
        compress2(st, buf, st2, buf2, blocks);
        digest_out(st, out + 32 * i);
        digest_out(st2, out + 32 * (i + 1));
    }
    if (i < n_leaves) {
        entries_be(buf + 1, src + stride * i, leaf, k);
        memcpy(st, IV, sizeof st);
        compress(st, buf, blocks);
        digest_out(st, out + 32 * i);
    }
    if (buf != stack_buf) free(buf);
    return 0;
}

/* out[i] = sha256(0x01 || children[64i .. 64i+64)). */
static void hash_nodes(const uint8_t *children, size_t n_out, uint8_t *out) {
    uint8_t buf[128], buf2[128];
    buf[0] = buf2[0] = 0x01;
    pad(buf, 65);
    pad(buf2, 65);
    uint32_t st[8], st2[8];
    size_t i = 0;
    for (; i + 2 <= n_out; i += 2) {
        memcpy(buf + 1, children + 64 * i, 64);
        memcpy(buf2 + 1, children + 64 * (i + 1), 64);
        memcpy(st, IV, sizeof st);
        memcpy(st2, IV, sizeof st2);
        compress2(st, buf, st2, buf2, 2);
        digest_out(st, out + 32 * i);
        digest_out(st2, out + 32 * (i + 1));
    }
    if (i < n_out) {
        memcpy(buf + 1, children + 64 * i, 64);
        memcpy(st, IV, sizeof st);
        compress(st, buf, 2);
        digest_out(st, out + 32 * i);
    }
}

/* ------------------------------------------------------------------------------- bindings */

static int entry_kind(const Py_buffer *view, enum kind *k) {
    const char *fmt = view->format ? view->format : "B";
    char order = '@';
    if (*fmt == '@' || *fmt == '=' || *fmt == '<' || *fmt == '>' || *fmt == '!') order = *fmt++;
    int le = is_little_endian();
    int native = order == '@' || order == '=';
    int data_big = order == '>' || order == '!' || (native && !le);
    int data_native = native || (order == '<' && le) || (data_big && !le);
    if (view->itemsize == 1 && (!strcmp(fmt, "B") || !strcmp(fmt, "b") || !strcmp(fmt, "c"))) {
        *k = K_BYTES;
        return 0;
    }
    if (view->itemsize == 4 && (!strcmp(fmt, "I") || !strcmp(fmt, "L"))) {
        if (data_big || le) { /* big-endian data, or little-endian data on this LE machine */
            *k = data_big ? K_U32_BE : K_U32_NATIVE;
            return 0;
        }
    }
    if (view->itemsize == 4 && !strcmp(fmt, "f") && data_native) {
        *k = K_F32;
        return 0;
    }
    PyErr_Format(PyExc_TypeError,
                 "leaves: entries must be float32, uint32 or bytes, got format '%s' of %zd bytes",
                 view->format ? view->format : "B", view->itemsize);
    return -1;
}

/* A C-contiguous view of `obj` (with its format), writable if asked. */
static int get_view(PyObject *obj, Py_buffer *view, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous%s buffer", what,
                     writable ? " writable" : "");
        return -1;
    }
    return 0;
}

static PyObject *py_leaves(PyObject *self, PyObject *args) {
    PyObject *data_obj, *out_obj;
    Py_buffer data, out;
    Py_ssize_t leaf;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnO", &data_obj, &leaf, &out_obj)) return NULL;
    if (get_view(data_obj, &data, 0, "leaves: data") < 0) return NULL;
    if (get_view(out_obj, &out, 1, "leaves: out") < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    PyObject *ret = NULL;
    enum kind k;
    if (entry_kind(&data, &k) < 0) goto done;
    if (leaf < 1 || leaf > PY_SSIZE_T_MAX / 4 || data.len % (4 * leaf)) {
        PyErr_Format(PyExc_ValueError, "leaves: %zd bytes of entries are not whole leaves of %zd",
                     data.len, leaf);
        goto done;
    }
    size_t n_leaves = (size_t)(data.len / (4 * leaf));
    if ((size_t)out.len != 32 * n_leaves) {
        PyErr_Format(PyExc_ValueError, "leaves: out has %zd bytes, %zu leaves need %zu", out.len,
                     n_leaves, 32 * n_leaves);
        goto done;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hash_leaves((const uint8_t *)data.buf, n_leaves, (size_t)leaf, k, (uint8_t *)out.buf);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto done;
    }
    ret = Py_None;
    Py_INCREF(ret);
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&out);
    return ret;
}

static PyObject *py_nodes(PyObject *self, PyObject *args) {
    PyObject *children_obj, *out_obj;
    Py_buffer children, out;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &children_obj, &out_obj)) return NULL;
    if (get_view(children_obj, &children, 0, "nodes: children") < 0) return NULL;
    if (get_view(out_obj, &out, 1, "nodes: out") < 0) {
        PyBuffer_Release(&children);
        return NULL;
    }
    PyObject *ret = NULL;
    if (children.len % 64 || out.len * 2 != children.len) {
        PyErr_Format(PyExc_ValueError,
                     "nodes: %zd bytes of children do not make %zd bytes of parents",
                     children.len, out.len);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    hash_nodes((const uint8_t *)children.buf, (size_t)(out.len / 32), (uint8_t *)out.buf);
    Py_END_ALLOW_THREADS
    ret = Py_None;
    Py_INCREF(ret);
done:
    PyBuffer_Release(&children);
    PyBuffer_Release(&out);
    return ret;
}

static PyObject *py_backend(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(backend_name);
}

static int shani_ok = 0;

static PyObject *py_set_backend(PyObject *self, PyObject *args) {
    const char *name;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (!strcmp(name, "portable")) {
        compress = compress_portable;
        compress2 = compress2_portable;
        backend_name = "portable";
    }
#ifdef PINFI_SHANI
    else if (!strcmp(name, "sha-ni") && shani_ok) {
        compress = compress_shani;
        compress2 = compress2_shani;
        backend_name = "sha-ni";
    }
#endif
    else {
        PyErr_Format(PyExc_ValueError, "set_backend: %s is not available here", name);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"leaves", py_leaves, METH_VARARGS,
     "leaves(data, leaf, out): out[i] = sha256(0x00 || leaf i as big-endian uint32), "
     "GIL released."},
    {"nodes", py_nodes, METH_VARARGS,
     "nodes(children, out): out[i] = sha256(0x01 || children[2i] || children[2i+1]), "
     "GIL released."},
    {"backend", py_backend, METH_NOARGS, "The compression function in use: sha-ni or portable."},
    {"set_backend", py_set_backend, METH_VARARGS,
     "set_backend(name): use 'portable' or (where the CPU has it) 'sha-ni'."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sha256batch",
    "Batch SHA-256 of Merkle leaves and levels with the GIL released.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sha256batch(void) {
#ifdef PINFI_SHANI
    shani_ok = cpu_has_shani();
    if (shani_ok) {
        compress = compress_shani;
        compress2 = compress2_shani;
        backend_name = "sha-ni";
    }
#endif
    return PyModule_Create(&module);
}
