/*
 * Unit tests for qcow2's AES encryption (block/qcow2-crypt.c) and the core's key handling
 * (block/block-key.c): a node opens without its key and refuses data I/O with ENOKEY until
 * bdrv_set_key; the key goes to an encrypted backing node; a sector's cipher text is the
 * one computed here from the FIPS AES and the sector number (the format's definition, so
 * the test does not merely compare the driver with itself); compressed writes, block status
 * offsets and metadata preallocation are refused; a key change applies to the next request.
 * Interoperability with qemu-img 7.2 is tests/system/test_img_encrypt.py's business.
 */
#include <errno.h>
#include <string.h>
#include "block/qcow2.h"
#include "tests/unit/image-test-util.h"
#include "util/aes.h"

#define CS 65536

/* Version 3, 64 KiB clusters, 16-bit refcounts, not encrypted. */
static Qcow2CreateOpts plain_opts(uint64_t size)
{
    return (Qcow2CreateOpts){.size = size, .version = 3, .cluster_size = CS, .refcount_bits = 16};
}

static BlockDriverState *new_encrypted(const char *name, uint64_t size, const char *key)
{
    Qcow2CreateOpts o = plain_opts(size);
    g_autofree char *path = tmp_image(name);
    Error *err = NULL;
    BlockDriverState *bs;

    o.encrypt = true;
    g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, 0);
    bs = open_image_fmt(path, "qcow2", BDRV_O_RDWR);
    g_assert_true(bdrv_is_encrypted(bs));
    if (key) {
        g_assert_cmpint(bdrv_set_key(bs, key), ==, 0);
    }
    return bs;
}

static void test_key_required(void)
{
    BlockDriverState *bs = new_encrypted("a.qcow2", 1 << 20, NULL);
    uint8_t buf[512] = {0};

    g_assert_true(bdrv_key_required(bs));
    g_assert_cmpstr(bdrv_get_encrypted_filename(bs), ==, bdrv_get_filename(bs));
    g_assert_cmpint(bdrv_pread(bs, 0, buf, sizeof(buf)), ==, -ENOKEY);
    g_assert_cmpint(bdrv_pwrite(bs, 0, buf, sizeof(buf)), ==, -ENOKEY);
    g_assert_cmpint(bdrv_set_key(bs, "pw"), ==, 0);
    g_assert_false(bdrv_key_required(bs));
    write_pattern(bs, 0, 512, 0x42);
    assert_pattern(bs, 0, 512, 0x42);
    bdrv_unref(bs);
}

static void test_plain_image_takes_no_key(void)
{
    g_autofree char *path = tmp_image("plain.qcow2");
    Qcow2CreateOpts o = plain_opts(1 << 20);
    BlockDriverState *bs;

    g_assert_cmpint(qcow2_create_file(path, &o, NULL), ==, 0);
    bs = open_image_fmt(path, "qcow2", BDRV_O_RDWR);
    g_assert_false(bdrv_is_encrypted(bs));
    g_assert_false(bdrv_key_required(bs));
    g_assert_null(bdrv_get_encrypted_filename(bs));
    g_assert_cmpint(bdrv_set_key(bs, "pw"), ==, -EINVAL);
    bdrv_unref(bs);
}

/* The host offset of the data cluster that guest offset guest maps to. */
static uint64_t host_of(BlockDriverState *bs, uint64_t guest)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t e, run;

    g_mutex_lock(&s->lock);
    g_assert_cmpint(qcow2_get_mapping(bs, guest, 512, &e, &run), >=, 0);
    g_mutex_unlock(&s->lock);
    g_assert_cmpint(qcow2_entry_type(s, e), ==, QCOW2_CLUSTER_NORMAL);
    return (e & L2E_OFFSET_MASK) + (guest & (CS - 1));
}

/* What the format says sector `sector` holding plain must look like in the file. */
static void expected_cipher(const char *password, uint64_t sector, const uint8_t *plain,
                            uint8_t *out)
{
    uint8_t key[16] = {0}, iv[16] = {0};
    AesKey k;

    memcpy(key, password, MIN(strlen(password), sizeof(key)));
    for (int i = 0; i < 8; i++) {
        iv[i] = sector >> (8 * i);
    }
    g_assert_cmpint(aes_set_key(&k, key, sizeof(key)), ==, 0);
    aes_cbc_encrypt(&k, iv, plain, out, 512);
}

static void test_sector_cipher_text(void)
{
    const char *pw = "0123456789abcdef-not-used";
    BlockDriverState *bs = new_encrypted("b.qcow2", 4 << 20, pw);
    uint8_t plain[512], want[512], got[512];
    const uint64_t guest = 3 * CS + 7 * 512;

    for (int i = 0; i < 512; i++) {
        plain[i] = i * 7;
    }
    g_assert_cmpint(bdrv_pwrite(bs, guest, plain, 512), ==, 0);
    g_assert_cmpint(bdrv_flush(bs), ==, 0);
    g_assert_cmpint(bdrv_pread(bdrv_file_child(bs), host_of(bs, guest), got, 512), ==, 0);
    expected_cipher(pw, guest / 512, plain, want);
    g_assert_cmpmem(got, 512, want, 512);
    bdrv_unref(bs);
}

/* Partial writes copy the cluster's other sectors on write (deciphered, then enciphered
 * again for their own sector), unaligned ones go through the core's read-modify-write. */
static void test_partial_and_unaligned_writes(void)
{
    BlockDriverState *bs = new_encrypted("c.qcow2", 4 << 20, "pw");

    write_pattern(bs, 0, 2 * CS, 0x11);
    write_pattern(bs, 1000, 3000, 0x22);       /* in place, unaligned */
    write_pattern(bs, CS - 512, 1024, 0x33);   /* across two clusters */
    write_pattern(bs, 5 * CS + 100, 10, 0x44); /* a new cluster, unaligned */
    assert_pattern(bs, 0, 1000, 0x11);
    assert_pattern(bs, 1000, 3000, 0x22);
    assert_pattern(bs, 4000, CS - 512 - 4000, 0x11);
    assert_pattern(bs, CS - 512, 1024, 0x33);
    assert_pattern(bs, CS + 512, CS - 512, 0x11);
    assert_pattern(bs, 5 * CS, 100, 0);
    assert_pattern(bs, 5 * CS + 100, 10, 0x44);
    assert_pattern(bs, 5 * CS + 110, CS - 110, 0);
    bdrv_unref(bs);
}

/* Requests larger than the cipher's bounce buffer (1 MiB) go through it in pieces. */
static void test_large_requests(void)
{
    BlockDriverState *bs = new_encrypted("g.qcow2", 8 << 20, "pw");

    write_pattern(bs, 512 << 10, 3 << 20, 0x55);                  /* allocating */
    write_pattern(bs, (512 << 10) + 512, (3 << 20) - 1024, 0x66); /* in place */
    assert_pattern(bs, 0, 512 << 10, 0);
    assert_pattern(bs, 512 << 10, 512, 0x55);
    assert_pattern(bs, (512 << 10) + 512, (3 << 20) - 1024, 0x66);
    assert_pattern(bs, (512 << 10) + (3 << 20) - 512, 512, 0x55);
    bdrv_unref(bs);
}

/* A wrong key is taken (nothing can tell it is wrong) and reads other bytes; the right key
 * given afterwards reads the data again. */
static void test_key_change(void)
{
    BlockDriverState *bs = new_encrypted("d.qcow2", 1 << 20, "right");
    uint8_t buf[512];

    write_pattern(bs, 0, 512, 0x5a);
    g_assert_cmpint(bdrv_set_key(bs, "wrong"), ==, 0);
    g_assert_cmpint(bdrv_pread(bs, 0, buf, 512), ==, 0);
    g_assert_true(buf[0] != 0x5a || memcmp(buf, buf + 1, 511) != 0);
    g_assert_cmpint(bdrv_set_key(bs, "right"), ==, 0);
    assert_pattern(bs, 0, 512, 0x5a);
    bdrv_unref(bs);
}

static void test_refusals(void)
{
    BlockDriverState *bs = new_encrypted("e.qcow2", 1 << 20, "pw");
    g_autofree char *path = tmp_image("f.qcow2");
    Qcow2CreateOpts o = plain_opts(1 << 20);
    g_autofree uint8_t *buf = g_malloc0(CS);
    Error *err = NULL;
    uint64_t pnum;
    IOVector v;

    o.encrypt = true;
    o.prealloc = PREALLOC_MODE_METADATA;
    g_assert_false(bdrv_supports_compressed_writes(bs));
    iov_init_buf(&v, buf, CS);
    g_assert_cmpint(bdrv_pwritev(bs, 0, &v, BDRV_REQ_WRITE_COMPRESSED), ==, -ENOTSUP);
    iov_destroy(&v);
    write_pattern(bs, 0, CS, 0x77);
    g_assert_cmpint(bdrv_block_status(bs, 0, CS, &pnum) & BDRV_BLOCK_OFFSET_VALID, ==, 0);
    g_assert_cmpint(qcow2_create_file(path, &o, &err), ==, -EINVAL);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Preallocation is not supported for encrypted images");
    error_free(err);
    bdrv_unref(bs);
}

/* A plain overlay over an encrypted backing file: the key goes to the backing node. */
static void test_key_goes_to_backing(void)
{
    BlockDriverState *base = new_encrypted("base.qcow2", 1 << 20, "pw");
    g_autofree char *top_path = tmp_image("top.qcow2");
    Qcow2CreateOpts o = plain_opts(1 << 20);
    BlockDriverState *top;

    o.backing_file = "base.qcow2";
    o.backing_fmt = "qcow2";
    write_pattern(base, 0, CS, 0x3c);
    bdrv_unref(base);
    g_assert_cmpint(qcow2_create_file(top_path, &o, NULL), ==, 0);
    top = open_image_fmt(top_path, "qcow2", BDRV_O_RDWR);
    g_assert_true(bdrv_is_encrypted(top));
    g_assert_true(bdrv_key_required(top));
    g_assert_cmpstr(bdrv_get_encrypted_filename(top), ==, "base.qcow2");
    g_assert_cmpint(bdrv_set_key(top, "pw"), ==, 0);
    g_assert_false(bdrv_key_required(top));
    assert_pattern(top, 0, CS, 0x3c);
    bdrv_unref(top);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    tmpdir_create("test-qcow2-crypt-XXXXXX");
    g_test_add_func("/qcow2-crypt/key-required", test_key_required);
    g_test_add_func("/qcow2-crypt/plain-image-takes-no-key", test_plain_image_takes_no_key);
    g_test_add_func("/qcow2-crypt/sector-cipher-text", test_sector_cipher_text);
    g_test_add_func("/qcow2-crypt/partial-and-unaligned-writes", test_partial_and_unaligned_writes);
    g_test_add_func("/qcow2-crypt/large-requests", test_large_requests);
    g_test_add_func("/qcow2-crypt/key-change", test_key_change);
    g_test_add_func("/qcow2-crypt/refusals", test_refusals);
    g_test_add_func("/qcow2-crypt/key-goes-to-backing", test_key_goes_to_backing);
    ret = g_test_run();
    tmpdir_remove();
    return ret;
}
