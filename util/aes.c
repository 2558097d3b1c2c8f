/*
 * AES (FIPS-197) and CBC (NIST SP 800-38A), written from the specifications. Two
 * implementations of the same cipher: AES-NI, picked at run time where the CPU has it, and
 * portable C with 32-bit tables that fold SubBytes, ShiftRows and MixColumns into four lookups
 * per column. The portable tables are indexed by secret data, so that path leaks through cache
 * timing; AES-NI does not. The S-boxes and tables are computed once from their definition in
 * GF(2^8) rather than typed in. Not a general crypto library: no other modes, no padding.
 */
#include <glib.h>
#include "util/aes.h"
#include "util/bswap.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AES_X86 1
#define AES_NI_FN __attribute__((target("aes,sse2")))
#endif

#define AES_BLOCK 16

static uint8_t aes_sbox[256];
static uint8_t aes_inv_sbox[256];
/* aes_te[r][x]: byte x in row r, through SubBytes and MixColumns; aes_td likewise, inverse. */
static uint32_t aes_te[4][256];
static uint32_t aes_td[4][256];
static bool aes_cpu_has_ni;
static bool aes_portable_forced;

/* Multiplication by x (i.e. {02}) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1. */
static uint8_t gf_xtime(uint8_t a)
{
    return (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
}

static uint8_t gf_mul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;

    for (; b; b >>= 1) {
        if (b & 1) {
            r ^= a;
        }
        a = gf_xtime(a);
    }
    return r;
}

static uint8_t rol8(uint8_t x, int n)
{
    return (uint8_t)((x << n) | (x >> (8 - n)));
}

static uint32_t ror32(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

/*
 * S-box (FIPS-197 5.1.1): the multiplicative inverse in GF(2^8), then the affine transform.
 * Inverses come from logarithms to the base {03}, which generates all 255 non-zero elements.
 */
static void aes_init_sbox(void)
{
    uint8_t exp[255], log[256] = {0};
    uint8_t p = 1;

    for (int i = 0; i < 255; i++) {
        exp[i] = p;
        log[p] = (uint8_t)i;
        p ^= gf_xtime(p);
    }
    for (int x = 0; x < 256; x++) {
        uint8_t inv = x ? exp[(255 - log[x]) % 255] : 0;
        uint8_t s = inv ^ rol8(inv, 1) ^ rol8(inv, 2) ^ rol8(inv, 3) ^ rol8(inv, 4) ^ 0x63;

        aes_sbox[x] = s;
        aes_inv_sbox[s] = (uint8_t)x;
    }
}

static uint32_t aes_column(uint8_t r0, uint8_t r1, uint8_t r2, uint8_t r3)
{
    return (uint32_t)r0 << 24 | (uint32_t)r1 << 16 | (uint32_t)r2 << 8 | r3;
}

/*
 * A state column is a word with row 0 in bits 31-24. A byte in row 0 adds column
 * ({02}s, s, s, {03}s) of MixColumns (or ({0e}s, {09}s, {0d}s, {0b}s) of InvMixColumns);
 * a byte in row r adds the same column rotated down by r rows.
 */
static void aes_init_tables(void)
{
    for (int x = 0; x < 256; x++) {
        uint8_t s = aes_sbox[x], i = aes_inv_sbox[x];

        aes_te[0][x] = aes_column(gf_mul(s, 2), s, s, gf_mul(s, 3));
        aes_td[0][x] = aes_column(gf_mul(i, 14), gf_mul(i, 9), gf_mul(i, 13), gf_mul(i, 11));
        for (int r = 1; r < 4; r++) {
            aes_te[r][x] = ror32(aes_te[0][x], 8 * r);
            aes_td[r][x] = ror32(aes_td[0][x], 8 * r);
        }
    }
}

static void aes_init_once(void)
{
    static gsize done;

    if (g_once_init_enter(&done)) {
        aes_init_sbox();
        aes_init_tables();
#ifdef AES_X86
        __builtin_cpu_init();
        aes_cpu_has_ni = __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#endif
        g_once_init_leave(&done, 1);
    }
}

bool aes_ni_available(void)
{
    aes_init_once();
    return aes_cpu_has_ni;
}

void aes_force_portable(bool on)
{
    __atomic_store_n(&aes_portable_forced, on, __ATOMIC_RELAXED);
}

static uint8_t aes_byte(uint32_t w, int row)
{
    return (uint8_t)(w >> (24 - 8 * row));
}

static uint32_t aes_sub_word(uint32_t w)
{
    return aes_column(aes_sbox[aes_byte(w, 0)], aes_sbox[aes_byte(w, 1)], aes_sbox[aes_byte(w, 2)],
                      aes_sbox[aes_byte(w, 3)]);
}

/* InvMixColumns alone: aes_td's InvSubBytes undone by looking up S(x). */
static uint32_t aes_inv_mix_word(uint32_t w)
{
    return aes_td[0][aes_sbox[aes_byte(w, 0)]] ^ aes_td[1][aes_sbox[aes_byte(w, 1)]] ^
           aes_td[2][aes_sbox[aes_byte(w, 2)]] ^ aes_td[3][aes_sbox[aes_byte(w, 3)]];
}

/* KeyExpansion (FIPS-197 5.2). */
static void aes_expand_enc(AesKey *k, const uint8_t *key, int nk)
{
    int nw = 4 * (k->rounds + 1);
    uint8_t rcon = 1;

    for (int i = 0; i < nk; i++) {
        k->enc[i] = ldl_be_p(key + 4 * i);
    }
    for (int i = nk; i < nw; i++) {
        uint32_t t = k->enc[i - 1];

        if (i % nk == 0) {
            t = aes_sub_word(ror32(t, 24)) ^ (uint32_t)rcon << 24;
            rcon = gf_xtime(rcon);
        } else if (nk > 6 && i % nk == 4) {
            t = aes_sub_word(t);
        }
        k->enc[i] = k->enc[i - nk] ^ t;
    }
}

/*
 * The equivalent inverse cipher (FIPS-197 5.3.5) runs the rounds in encryption's order of
 * steps, so it needs the round keys reversed and, but for the first and last, through
 * InvMixColumns. AES-NI's aesdec wants the same keys.
 */
static void aes_expand_dec(AesKey *k)
{
    int nr = k->rounds;

    for (int r = 0; r <= nr; r++) {
        for (int j = 0; j < 4; j++) {
            uint32_t w = k->enc[4 * (nr - r) + j];

            k->dec[4 * r + j] = (r == 0 || r == nr) ? w : aes_inv_mix_word(w);
        }
    }
}

int aes_set_key(AesKey *k, const uint8_t *key, size_t key_len)
{
    int nk = (int)(key_len / 4);

    if (key_len != 16 && key_len != 24 && key_len != 32) {
        return -1;
    }
    aes_init_once();
    memset(k, 0, sizeof(*k));
    k->rounds = nk + 6;
    aes_expand_enc(k, key, nk);
    aes_expand_dec(k);
    for (int i = 0; i < 4 * (k->rounds + 1); i++) {
        stl_be_p(k->ni_enc + 4 * i, k->enc[i]);
        stl_be_p(k->ni_dec + 4 * i, k->dec[i]);
    }
    return 0;
}

/* Portable path: a block is four column words, s[c] = bytes 4c..4c+3 of the block. */

static void aes_load_words(uint32_t s[4], const uint8_t *p)
{
    for (int c = 0; c < 4; c++) {
        s[c] = ldl_be_p(p + 4 * c);
    }
}

static void aes_store_words(uint8_t *p, const uint32_t s[4])
{
    for (int c = 0; c < 4; c++) {
        stl_be_p(p + 4 * c, s[c]);
    }
}

/* One column of a full round: a..d are the columns ShiftRows takes rows 0..3 from. */
static inline uint32_t aes_enc_column(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return aes_te[0][aes_byte(a, 0)] ^ aes_te[1][aes_byte(b, 1)] ^ aes_te[2][aes_byte(c, 2)] ^
           aes_te[3][aes_byte(d, 3)];
}

static inline uint32_t aes_enc_last_column(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return aes_column(aes_sbox[aes_byte(a, 0)], aes_sbox[aes_byte(b, 1)], aes_sbox[aes_byte(c, 2)],
                      aes_sbox[aes_byte(d, 3)]);
}

static inline uint32_t aes_dec_column(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return aes_td[0][aes_byte(a, 0)] ^ aes_td[1][aes_byte(b, 1)] ^ aes_td[2][aes_byte(c, 2)] ^
           aes_td[3][aes_byte(d, 3)];
}

static inline uint32_t aes_dec_last_column(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    return aes_column(aes_inv_sbox[aes_byte(a, 0)], aes_inv_sbox[aes_byte(b, 1)],
                      aes_inv_sbox[aes_byte(c, 2)], aes_inv_sbox[aes_byte(d, 3)]);
}

static void aes_encrypt_words(const AesKey *k, uint32_t s[4])
{
    const uint32_t *rk = k->enc;
    uint32_t s0 = s[0] ^ rk[0], s1 = s[1] ^ rk[1], s2 = s[2] ^ rk[2], s3 = s[3] ^ rk[3];

    for (int r = 1; r < k->rounds; r++) {
        uint32_t t0, t1, t2, t3;

        rk += 4;
        t0 = aes_enc_column(s0, s1, s2, s3) ^ rk[0];
        t1 = aes_enc_column(s1, s2, s3, s0) ^ rk[1];
        t2 = aes_enc_column(s2, s3, s0, s1) ^ rk[2];
        t3 = aes_enc_column(s3, s0, s1, s2) ^ rk[3];
        s0 = t0, s1 = t1, s2 = t2, s3 = t3;
    }
    rk += 4;
    s[0] = aes_enc_last_column(s0, s1, s2, s3) ^ rk[0];
    s[1] = aes_enc_last_column(s1, s2, s3, s0) ^ rk[1];
    s[2] = aes_enc_last_column(s2, s3, s0, s1) ^ rk[2];
    s[3] = aes_enc_last_column(s3, s0, s1, s2) ^ rk[3];
}

/* InvShiftRows takes row r of column c from column c - r. */
static void aes_decrypt_words(const AesKey *k, uint32_t s[4])
{
    const uint32_t *rk = k->dec;
    uint32_t s0 = s[0] ^ rk[0], s1 = s[1] ^ rk[1], s2 = s[2] ^ rk[2], s3 = s[3] ^ rk[3];

    for (int r = 1; r < k->rounds; r++) {
        uint32_t t0, t1, t2, t3;

        rk += 4;
        t0 = aes_dec_column(s0, s3, s2, s1) ^ rk[0];
        t1 = aes_dec_column(s1, s0, s3, s2) ^ rk[1];
        t2 = aes_dec_column(s2, s1, s0, s3) ^ rk[2];
        t3 = aes_dec_column(s3, s2, s1, s0) ^ rk[3];
        s0 = t0, s1 = t1, s2 = t2, s3 = t3;
    }
    rk += 4;
    s[0] = aes_dec_last_column(s0, s3, s2, s1) ^ rk[0];
    s[1] = aes_dec_last_column(s1, s0, s3, s2) ^ rk[1];
    s[2] = aes_dec_last_column(s2, s1, s0, s3) ^ rk[2];
    s[3] = aes_dec_last_column(s3, s2, s1, s0) ^ rk[3];
}

static void aes_cbc_encrypt_portable(const AesKey *k, const uint8_t iv[16], const uint8_t *in,
                                     uint8_t *out, size_t len)
{
    uint32_t s[4];

    aes_load_words(s, iv);
    for (size_t off = 0; off < len; off += AES_BLOCK) {
        for (int c = 0; c < 4; c++) {
            s[c] ^= ldl_be_p(in + off + 4 * c);
        }
        aes_encrypt_words(k, s);
        aes_store_words(out + off, s);
    }
}

/* Each ciphertext block is read before its plaintext is written, so in == out works. */
static void aes_cbc_decrypt_portable(const AesKey *k, const uint8_t iv[16], const uint8_t *in,
                                     uint8_t *out, size_t len)
{
    uint32_t prev[4], c[4], s[4];

    aes_load_words(prev, iv);
    for (size_t off = 0; off < len; off += AES_BLOCK) {
        aes_load_words(c, in + off);
        memcpy(s, c, sizeof(s));
        aes_decrypt_words(k, s);
        for (int i = 0; i < 4; i++) {
            s[i] ^= prev[i];
        }
        aes_store_words(out + off, s);
        memcpy(prev, c, sizeof(prev));
    }
}

#ifdef AES_X86

/* Tables are ready: every caller of the ciphers has been through aes_set_key(). */
static bool aes_use_ni(void)
{
    return aes_cpu_has_ni && !__atomic_load_n(&aes_portable_forced, __ATOMIC_RELAXED);
}

static inline AES_NI_FN void aes_ni_load_keys(__m128i rk[15], const uint8_t *bytes, int rounds)
{
    for (int r = 0; r <= rounds; r++) {
        rk[r] = _mm_loadu_si128((const __m128i *)(bytes + AES_BLOCK * r));
    }
}

static inline AES_NI_FN __m128i aes_ni_encrypt(const __m128i rk[15], int rounds, __m128i x)
{
    x = _mm_xor_si128(x, rk[0]);
    for (int r = 1; r < rounds; r++) {
        x = _mm_aesenc_si128(x, rk[r]);
    }
    return _mm_aesenclast_si128(x, rk[rounds]);
}

static inline AES_NI_FN __m128i aes_ni_decrypt(const __m128i rk[15], int rounds, __m128i x)
{
    x = _mm_xor_si128(x, rk[0]);
    for (int r = 1; r < rounds; r++) {
        x = _mm_aesdec_si128(x, rk[r]);
    }
    return _mm_aesdeclast_si128(x, rk[rounds]);
}

static AES_NI_FN void aes_ni_cbc_encrypt(const AesKey *k, const uint8_t iv[16], const uint8_t *in,
                                         uint8_t *out, size_t len)
{
    __m128i rk[15];
    __m128i x = _mm_loadu_si128((const __m128i *)iv);

    aes_ni_load_keys(rk, k->ni_enc, k->rounds);
    for (size_t off = 0; off < len; off += AES_BLOCK) {
        x = _mm_xor_si128(x, _mm_loadu_si128((const __m128i *)(in + off)));
        x = aes_ni_encrypt(rk, k->rounds, x);
        _mm_storeu_si128((__m128i *)(out + off), x);
    }
}

/*
 * Unlike encryption, CBC decryption has no chain through the cipher: four blocks go through
 * the rounds together to hide aesdec's latency. Plain variables rather than arrays, so that
 * they stay in registers. All four blocks are loaded before any is stored, so in == out works.
 */
static AES_NI_FN void aes_ni_cbc_decrypt(const AesKey *k, const uint8_t iv[16], const uint8_t *in,
                                         uint8_t *out, size_t len)
{
    __m128i rk[15];
    __m128i prev = _mm_loadu_si128((const __m128i *)iv);
    int nr = k->rounds;
    size_t off = 0;

    aes_ni_load_keys(rk, k->ni_dec, nr);
    for (; off + 4 * AES_BLOCK <= len; off += 4 * AES_BLOCK) {
        const __m128i *src = (const __m128i *)(in + off);
        __m128i *dst = (__m128i *)(out + off);
        __m128i c0 = _mm_loadu_si128(src), c1 = _mm_loadu_si128(src + 1);
        __m128i c2 = _mm_loadu_si128(src + 2), c3 = _mm_loadu_si128(src + 3);
        __m128i x0 = _mm_xor_si128(c0, rk[0]), x1 = _mm_xor_si128(c1, rk[0]);
        __m128i x2 = _mm_xor_si128(c2, rk[0]), x3 = _mm_xor_si128(c3, rk[0]);

        for (int r = 1; r < nr; r++) {
            x0 = _mm_aesdec_si128(x0, rk[r]);
            x1 = _mm_aesdec_si128(x1, rk[r]);
            x2 = _mm_aesdec_si128(x2, rk[r]);
            x3 = _mm_aesdec_si128(x3, rk[r]);
        }
        _mm_storeu_si128(dst, _mm_xor_si128(_mm_aesdeclast_si128(x0, rk[nr]), prev));
        _mm_storeu_si128(dst + 1, _mm_xor_si128(_mm_aesdeclast_si128(x1, rk[nr]), c0));
        _mm_storeu_si128(dst + 2, _mm_xor_si128(_mm_aesdeclast_si128(x2, rk[nr]), c1));
        _mm_storeu_si128(dst + 3, _mm_xor_si128(_mm_aesdeclast_si128(x3, rk[nr]), c2));
        prev = c3;
    }
    for (; off < len; off += AES_BLOCK) {
        __m128i c = _mm_loadu_si128((const __m128i *)(in + off));

        _mm_storeu_si128((__m128i *)(out + off), _mm_xor_si128(aes_ni_decrypt(rk, nr, c), prev));
        prev = c;
    }
}

#endif /* AES_X86 */

void aes_encrypt_block(const AesKey *k, const uint8_t in[16], uint8_t out[16])
{
    static const uint8_t zero_iv[AES_BLOCK];

    aes_cbc_encrypt(k, zero_iv, in, out, AES_BLOCK);
}

void aes_decrypt_block(const AesKey *k, const uint8_t in[16], uint8_t out[16])
{
    static const uint8_t zero_iv[AES_BLOCK];

    aes_cbc_decrypt(k, zero_iv, in, out, AES_BLOCK);
}

void aes_cbc_encrypt(const AesKey *k, const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                     size_t len)
{
    g_assert(len % AES_BLOCK == 0);
#ifdef AES_X86
    if (aes_use_ni()) {
        aes_ni_cbc_encrypt(k, iv, in, out, len);
        return;
    }
#endif
    aes_cbc_encrypt_portable(k, iv, in, out, len);
}

void aes_cbc_decrypt(const AesKey *k, const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                     size_t len)
{
    g_assert(len % AES_BLOCK == 0);
#ifdef AES_X86
    if (aes_use_ni()) {
        aes_ni_cbc_decrypt(k, iv, in, out, len);
        return;
    }
#endif
    aes_cbc_decrypt_portable(k, iv, in, out, len);
}
