/*
 * Unit tests for util/aes.c: the published vectors of FIPS-197 (Appendix A.1 key expansion,
 * Appendix C single blocks for all three key sizes) and NIST SP 800-38A (F.2 CBC), in-place CBC,
 * random round trips, and the AES-NI path against the portable one. Every vector runs on the
 * portable path and, where the CPU has it, on AES-NI. With --verbose (or --tap), prints the CBC
 * throughput of each path on 512-byte sectors; nothing asserts on speed.
 */
#include <glib.h>
#include <string.h>
#include "util/aes.h"

#define SECTOR 512

static const char *const sp800_38a_iv = "000102030405060708090a0b0c0d0e0f";
static const char *const sp800_38a_plain = "6bc1bee22e409f96e93d7e117393172a"
                                           "ae2d8a571e03ac9c9eb76fac45af8e51"
                                           "30c81c46a35ce411e5fbc1191a0a52ef"
                                           "f69f2445df4f9b17ad2b417be66c3710";

static uint8_t *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *buf = g_malloc(n);

    g_assert_cmpuint(strlen(hex) % 2, ==, 0);
    for (size_t i = 0; i < n; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);

        g_assert(hi >= 0 && lo >= 0);
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n;
    return buf;
}

static void set_key_hex(AesKey *k, const char *hex)
{
    size_t len;
    g_autofree uint8_t *key = from_hex(hex, &len);

    g_assert_cmpint(aes_set_key(k, key, len), ==, 0);
}

/* Number of paths to run: the portable one, and AES-NI where the CPU has it. */
static int path_count(void)
{
    return aes_ni_available() ? 2 : 1;
}

/* Path 0 is the portable one. */
static void path_select(int path)
{
    aes_force_portable(path == 0);
}

static void random_bytes(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)g_test_rand_int_range(0, 256);
    }
}

static void random_key(AesKey *k)
{
    static const size_t lens[] = {16, 24, 32};
    uint8_t key[32];
    size_t len = lens[g_test_rand_int_range(0, 3)];

    random_bytes(key, len);
    g_assert_cmpint(aes_set_key(k, key, len), ==, 0);
}

static void test_set_key_bad_length(void)
{
    static const size_t bad[] = {0, 1, 15, 17, 20, 23, 25, 31, 33, 64};
    static const struct {
        size_t len;
        int rounds;
    } good[] = {{16, 10}, {24, 12}, {32, 14}};
    uint8_t key[64] = {0};
    AesKey k, before;

    memset(&k, 0xa5, sizeof(k));
    before = k;
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(aes_set_key(&k, key, bad[i]), ==, -1);
        g_assert(memcmp(&k, &before, sizeof(k)) == 0);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_assert_cmpint(aes_set_key(&k, key, good[i].len), ==, 0);
        g_assert_cmpint(k.rounds, ==, good[i].rounds);
    }
}

/* FIPS-197 A.1 (AES-128) and the last words of A.2 (AES-192) and A.3 (AES-256). */
static void test_key_expansion(void)
{
    static const uint32_t a1_round1[4] = {0xa0fafe17, 0x88542cb1, 0x23a33939, 0x2a6c7605};
    static const uint32_t a1_round10[4] = {0xd014f9a8, 0xc9ee2589, 0xe13f0cc8, 0xb6630ca6};
    size_t len;
    g_autofree uint8_t *a1_last = from_hex("d014f9a8c9ee2589e13f0cc8b6630ca6", &len);
    AesKey k;

    set_key_hex(&k, "2b7e151628aed2a6abf7158809cf4f3c");
    g_assert_cmpint(k.rounds, ==, 10);
    for (int i = 0; i < 4; i++) {
        g_assert_cmphex(k.enc[4 + i], ==, a1_round1[i]);
        g_assert_cmphex(k.enc[40 + i], ==, a1_round10[i]);
    }
    g_assert_cmpmem(k.ni_enc + 160, 16, a1_last, len);
    /* Decryption starts with the last round key and ends with the cipher key. */
    g_assert_cmphex(k.dec[0], ==, 0xd014f9a8);
    g_assert_cmphex(k.dec[40], ==, 0x2b7e1516);

    set_key_hex(&k, "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b");
    g_assert_cmpint(k.rounds, ==, 12);
    g_assert_cmphex(k.enc[6], ==, 0xfe0c91f7);
    g_assert_cmphex(k.enc[51], ==, 0x01002202);

    set_key_hex(&k, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
    g_assert_cmpint(k.rounds, ==, 14);
    g_assert_cmphex(k.enc[8], ==, 0x9ba35411);
    g_assert_cmphex(k.enc[59], ==, 0x706c631e);
}

typedef struct BlockVector {
    const char *key;
    const char *plain;
    const char *cipher;
} BlockVector;

/* FIPS-197 Appendix C.1, C.2, C.3. */
static const BlockVector fips197_c1 = {
    "000102030405060708090a0b0c0d0e0f",
    "00112233445566778899aabbccddeeff",
    "69c4e0d86a7b0430d8cdb78070b4c55a",
};
static const BlockVector fips197_c2 = {
    "000102030405060708090a0b0c0d0e0f1011121314151617",
    "00112233445566778899aabbccddeeff",
    "dda97ca4864cdfe06eaf70a0ec0d7191",
};
static const BlockVector fips197_c3 = {
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "00112233445566778899aabbccddeeff",
    "8ea2b7ca516745bfeafc49904b496089",
};

static void test_block(gconstpointer opaque)
{
    const BlockVector *v = opaque;
    size_t plen, clen;
    g_autofree uint8_t *plain = from_hex(v->plain, &plen);
    g_autofree uint8_t *cipher = from_hex(v->cipher, &clen);
    uint8_t buf[16];
    AesKey k;

    set_key_hex(&k, v->key);
    for (int path = 0; path < path_count(); path++) {
        path_select(path);
        aes_encrypt_block(&k, plain, buf);
        g_assert_cmpmem(buf, 16, cipher, clen);
        aes_decrypt_block(&k, cipher, buf);
        g_assert_cmpmem(buf, 16, plain, plen);

        memcpy(buf, plain, 16);
        aes_encrypt_block(&k, buf, buf);
        g_assert_cmpmem(buf, 16, cipher, clen);
        aes_decrypt_block(&k, buf, buf);
        g_assert_cmpmem(buf, 16, plain, plen);
    }
    aes_force_portable(false);
}

typedef struct CbcVector {
    const char *key;
    const char *cipher;
} CbcVector;

/* NIST SP 800-38A F.2.1/F.2.2 (CBC-AES128) and F.2.5/F.2.6 (CBC-AES256). */
static const CbcVector sp800_38a_f21 = {
    "2b7e151628aed2a6abf7158809cf4f3c",
    "7649abac8119b246cee98e9b12e9197d"
    "5086cb9b507219ee95db113a917678b2"
    "73bed6b8e3c1743b7116e69e22229516"
    "3ff1caa1681fac09120eca307586e1a7",
};
static const CbcVector sp800_38a_f25 = {
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    "f58c4c04d6e5f1ba779eabfb5f7bfbd6"
    "9cfc4e967edb808d679f777bc6702c7d"
    "39f23369a9d9bacfa530e26304231461"
    "b2eb05e2c39be9fcda6c19078c6a9d1b",
};

static void test_cbc_vector(gconstpointer opaque)
{
    const CbcVector *v = opaque;
    size_t ivlen, plen, clen;
    g_autofree uint8_t *iv = from_hex(sp800_38a_iv, &ivlen);
    g_autofree uint8_t *iv_copy = g_memdup2(iv, ivlen);
    g_autofree uint8_t *plain = from_hex(sp800_38a_plain, &plen);
    g_autofree uint8_t *cipher = from_hex(v->cipher, &clen);
    uint8_t buf[64];
    AesKey k;

    g_assert_cmpuint(plen, ==, sizeof(buf));
    set_key_hex(&k, v->key);
    for (int path = 0; path < path_count(); path++) {
        path_select(path);
        aes_cbc_encrypt(&k, iv, plain, buf, plen);
        g_assert_cmpmem(buf, sizeof(buf), cipher, clen);
        aes_cbc_decrypt(&k, iv, cipher, buf, clen);
        g_assert_cmpmem(buf, sizeof(buf), plain, plen);
        g_assert_cmpmem(iv, ivlen, iv_copy, ivlen);

        memcpy(buf, plain, plen);
        aes_cbc_encrypt(&k, iv, buf, buf, plen);
        g_assert_cmpmem(buf, sizeof(buf), cipher, clen);
        aes_cbc_decrypt(&k, iv, buf, buf, clen);
        g_assert_cmpmem(buf, sizeof(buf), plain, plen);
    }
    aes_force_portable(false);
}

/* In place equals out of place, for lengths around the 4-block groups of AES-NI decryption. */
static void test_cbc_in_place(void)
{
    static const size_t lens[] = {16, 32, 48, 64, 80, 112, 128, 144, SECTOR, SECTOR + 48};
    uint8_t iv[16], plain[SECTOR + 48], cipher[sizeof(plain)], buf[sizeof(plain)];
    AesKey k;

    for (int path = 0; path < path_count(); path++) {
        path_select(path);
        for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
            size_t len = lens[i];

            random_key(&k);
            random_bytes(iv, sizeof(iv));
            random_bytes(plain, len);
            aes_cbc_encrypt(&k, iv, plain, cipher, len);
            memcpy(buf, plain, len);
            aes_cbc_encrypt(&k, iv, buf, buf, len);
            g_assert_cmpmem(buf, len, cipher, len);
            aes_cbc_decrypt(&k, iv, buf, buf, len);
            g_assert_cmpmem(buf, len, plain, len);
        }
    }
    aes_force_portable(false);
}

static void test_cbc_round_trip(void)
{
    g_autofree uint8_t *plain = g_malloc(4096);
    g_autofree uint8_t *cipher = g_malloc(4096);
    g_autofree uint8_t *back = g_malloc(4096);
    uint8_t iv[16];
    AesKey k;

    for (int path = 0; path < path_count(); path++) {
        path_select(path);
        for (int i = 0; i < 200; i++) {
            size_t len = 16 * (size_t)g_test_rand_int_range(1, 4096 / 16 + 1);

            random_key(&k);
            random_bytes(iv, sizeof(iv));
            random_bytes(plain, len);
            aes_cbc_encrypt(&k, iv, plain, cipher, len);
            g_assert(memcmp(cipher, plain, len) != 0);
            aes_cbc_decrypt(&k, iv, cipher, back, len);
            g_assert_cmpmem(back, len, plain, len);
        }
    }
    aes_force_portable(false);
}

static void test_ni_matches_portable(void)
{
    g_autofree uint8_t *plain = g_malloc(4096);
    uint8_t out[2][4096];
    uint8_t iv[16];
    AesKey k;

    if (!aes_ni_available()) {
        g_test_skip("the CPU has no AES-NI");
        return;
    }
    for (int i = 0; i < 200; i++) {
        size_t len = 16 * (size_t)g_test_rand_int_range(1, 4096 / 16 + 1);

        random_key(&k);
        random_bytes(iv, sizeof(iv));
        random_bytes(plain, len);
        for (int path = 0; path < 2; path++) {
            path_select(path);
            aes_cbc_encrypt(&k, iv, plain, out[path], len);
        }
        g_assert_cmpmem(out[0], len, out[1], len);
        for (int path = 0; path < 2; path++) {
            path_select(path);
            aes_cbc_decrypt(&k, iv, plain, out[path], len);
        }
        g_assert_cmpmem(out[0], len, out[1], len);
        for (int path = 0; path < 2; path++) {
            path_select(path);
            aes_encrypt_block(&k, plain, out[path]);
            aes_decrypt_block(&k, plain, out[path] + 16);
        }
        g_assert_cmpmem(out[0], 32, out[1], 32);
    }
    aes_force_portable(false);
}

/* MB/s of one CBC direction on 512-byte sectors, run for about 50 ms. */
static double sector_throughput(const AesKey *k, bool decrypt, uint8_t *buf, size_t len)
{
    uint8_t iv[16] = {0};
    int64_t start = g_get_monotonic_time(), elapsed;
    size_t done = 0;

    do {
        for (size_t off = 0; off < len; off += SECTOR) {
            iv[0] = (uint8_t)(off / SECTOR);
            if (decrypt) {
                aes_cbc_decrypt(k, iv, buf + off, buf + off, SECTOR);
            } else {
                aes_cbc_encrypt(k, iv, buf + off, buf + off, SECTOR);
            }
        }
        done += len;
        elapsed = g_get_monotonic_time() - start;
    } while (elapsed < 50000);
    return (double)done / (double)elapsed;
}

static void test_cbc_throughput(void)
{
    static const char *const names[] = {"portable", "AES-NI"};
    size_t len = 64 * 1024;
    g_autofree uint8_t *buf = g_malloc0(len);
    uint8_t key[32] = {0};
    AesKey k;

    for (size_t key_len = 16; key_len <= 32; key_len += 16) {
        g_assert_cmpint(aes_set_key(&k, key, key_len), ==, 0);
        for (int path = 0; path < path_count(); path++) {
            path_select(path);
            g_test_message("AES-%zu-CBC %s, 512-byte sectors: encrypt %.0f MB/s, decrypt %.0f MB/s",
                           key_len * 8, names[path], sector_throughput(&k, false, buf, len),
                           sector_throughput(&k, true, buf, len));
        }
    }
    aes_force_portable(false);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/aes/set-key/bad-length", test_set_key_bad_length);
    g_test_add_func("/aes/key-expansion/fips197-a", test_key_expansion);
    g_test_add_data_func("/aes/block/fips197-c1-aes128", &fips197_c1, test_block);
    g_test_add_data_func("/aes/block/fips197-c2-aes192", &fips197_c2, test_block);
    g_test_add_data_func("/aes/block/fips197-c3-aes256", &fips197_c3, test_block);
    g_test_add_data_func("/aes/cbc/sp800-38a-f2.1-f2.2-aes128", &sp800_38a_f21, test_cbc_vector);
    g_test_add_data_func("/aes/cbc/sp800-38a-f2.5-f2.6-aes256", &sp800_38a_f25, test_cbc_vector);
    g_test_add_func("/aes/cbc/in-place", test_cbc_in_place);
    g_test_add_func("/aes/cbc/round-trip", test_cbc_round_trip);
    g_test_add_func("/aes/cbc/ni-matches-portable", test_ni_matches_portable);
    g_test_add_func("/aes/cbc/throughput", test_cbc_throughput);
    return g_test_run();
}
