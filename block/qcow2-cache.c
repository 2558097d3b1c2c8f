/*
 * qcow2 metadata caches: a small write-back cache of cluster-sized tables (L2 tables,
 * refcount blocks) kept in their on-disk (big-endian) form, evicted least-recently-used,
 * and the ordered write-back of all metadata. The order is what keeps a crash harmless:
 * refcount blocks, flush, L2 tables, flush, L1 table — so a table on disk never points to a
 * cluster whose refcount is not yet on disk (a crash in between only leaks clusters). With
 * lazy refcounts, once the dirty bit is durable, refcount blocks are written with the L2
 * tables instead of before them (the next read-write open rebuilds the refcounts), and the
 * flush before an L2 table is kept only where a new cluster's copied or zeroed old content
 * depends on it. Callers hold the driver's metadata lock. Not a general-purpose cache.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include "block/qcow2.h"

typedef struct Qcow2CacheEntry {
    uint64_t offset;  /* 0 = empty */
    void *table;
    bool dirty;
    uint64_t lru;
} Qcow2CacheEntry;

struct Qcow2Cache {
    BlockDriverState *bs;
    Qcow2CacheEntry *entries;
    uint8_t *mem;     /* the tables, entry i at i * table_size */
    GHashTable *map;  /* &entry->offset of every cached table -> entry */
    int n;
    uint64_t table_size;
    uint64_t lru_counter;
    int kind; /* QCOW2_OL_*: what the tables are, for the overlap check */
    int (*before_write)(void *opaque);
    void *before_write_opaque;
};

Qcow2Cache *qcow2_cache_new(BlockDriverState *bs, int kind, uint64_t entries, uint64_t table_size)
{
    g_autofree Qcow2CacheEntry *e = NULL;
    uint8_t *mem;
    Qcow2Cache *c;

    if (!entries || entries > INT_MAX || entries > SIZE_MAX / table_size ||
        !(e = g_try_new0(Qcow2CacheEntry, entries)) ||
        !(mem = g_try_malloc0(entries * table_size))) {
        return NULL;
    }
    c = g_new0(Qcow2Cache, 1);
    c->bs = bs;
    c->kind = kind;
    c->n = entries;
    c->table_size = table_size;
    c->mem = mem;
    c->entries = g_steal_pointer(&e);
    c->map = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (uint64_t i = 0; i < entries; i++) {
        c->entries[i].table = mem + i * table_size;
    }
    return c;
}

void qcow2_cache_free(Qcow2Cache *c)
{
    if (!c) {
        return;
    }
    g_hash_table_destroy(c->map);
    g_free(c->mem);
    g_free(c->entries);
    g_free(c);
}

static Qcow2CacheEntry *cache_lookup(Qcow2Cache *c, uint64_t offset)
{
    return offset ? g_hash_table_lookup(c->map, &offset) : NULL;
}

/* Give e a new table offset (0: empty), keeping the map in step. */
static void cache_entry_set_offset(Qcow2Cache *c, Qcow2CacheEntry *e, uint64_t offset)
{
    if (e->offset) {
        g_hash_table_remove(c->map, &e->offset);
    }
    e->offset = offset;
    if (offset) {
        g_hash_table_insert(c->map, &e->offset, e);
    }
}

void qcow2_cache_set_before_write(Qcow2Cache *c, int (*fn)(void *opaque), void *opaque)
{
    c->before_write = fn;
    c->before_write_opaque = opaque;
}

static bool cache_is_dirty(Qcow2Cache *c);

static int cache_entry_write(Qcow2Cache *c, Qcow2CacheEntry *e, bool hook)
{
    int ret;

    if (!e->dirty) {
        return 0;
    }
    if (hook && c->before_write && (ret = c->before_write(c->before_write_opaque)) < 0) {
        return ret;
    }
    ret = qcow2_pwrite_checked(c->bs, c->kind, e->offset, e->table, c->table_size, false);
    if (ret < 0) {
        return ret;
    }
    e->dirty = false;
    return 0;
}

int qcow2_cache_write(Qcow2Cache *c)
{
    int ret = 0;

    if (cache_is_dirty(c) && c->before_write &&
        (ret = c->before_write(c->before_write_opaque)) < 0) {
        return ret;
    }
    for (int i = 0; i < c->n; i++) {
        int r = cache_entry_write(c, &c->entries[i], false);
        ret = ret < 0 ? ret : r;
    }
    return ret;
}

static bool cache_is_dirty(Qcow2Cache *c)
{
    for (int i = 0; i < c->n; i++) {
        if (c->entries[i].dirty) {
            return true;
        }
    }
    return false;
}

int qcow2_cache_get(Qcow2Cache *c, uint64_t offset, void **table, bool read)
{
    Qcow2CacheEntry *victim = cache_lookup(c, offset);
    int ret;

    if (victim) {
        victim->lru = ++c->lru_counter;
        *table = victim->table;
        return 0;
    }
    for (int i = 0; i < c->n; i++) {
        if (!victim || c->entries[i].lru < victim->lru) {
            victim = &c->entries[i];
        }
    }
    /* One barrier for all: write back every dirty table, not just the victim. */
    ret = victim->dirty ? qcow2_cache_write(c) : 0;
    if (ret < 0) {
        return ret;
    }
    cache_entry_set_offset(c, victim, 0);
    if (read) {
        ret = bdrv_pread(c->bs->file, offset, victim->table, c->table_size);
        if (ret < 0) {
            return ret;
        }
    } else {
        memset(victim->table, 0, c->table_size);
    }
    cache_entry_set_offset(c, victim, offset);
    victim->lru = ++c->lru_counter;
    *table = victim->table;
    return 0;
}

void qcow2_cache_mark_dirty(Qcow2Cache *c, void *table)
{
    uint8_t *p = table;

    g_assert(p >= c->mem && p < c->mem + (uint64_t)c->n * c->table_size);
    c->entries[(p - c->mem) / c->table_size].dirty = true;
}

int qcow2_cache_entries(const Qcow2Cache *c)
{
    return c->n;
}

bool qcow2_cache_contains(Qcow2Cache *c, uint64_t offset)
{
    return cache_lookup(c, offset) != NULL;
}

void qcow2_cache_discard(Qcow2Cache *c, uint64_t offset)
{
    Qcow2CacheEntry *e = cache_lookup(c, offset);

    if (e) {
        cache_entry_set_offset(c, e, 0);
        e->dirty = false;
        e->lru = 0;
    }
}

/* A barrier on the file: the old content new clusters hold (l2_needs_sync) is durable too. */
static int sync_file(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = bdrv_flush(bs->file);

    if (ret >= 0) {
        s->l2_needs_sync = false;
    }
    return ret;
}

/* Refcount blocks (and guest data written so far) to disk, then a barrier: whatever an L2
 * table written after this points to is counted and holds its data. */
int qcow2_flush_refcounts(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_sync_tables(bs);

    ret = ret < 0 ? ret : qcow2_cache_write(s->refblock_cache);
    return ret < 0 ? ret : sync_file(bs);
}

/*
 * Run before dirty L2 tables are written. Without lazy refcounts: qcow2_flush_refcounts.
 * With them (the dirty bit is durable, so a crash is followed by a refcount rebuild), an
 * L2 entry may reach the disk before the refcount of its cluster: no refcount write and no
 * flush for that. The flush stays when a new cluster holds old content its request did not
 * write (copied, or zeroes over a cluster that may hold stale data): without it the L2
 * entry could land first and those bytes, which the guest did not touch, read wrong.
 */
int qcow2_before_l2_write(void *opaque)
{
    BlockDriverState *bs = opaque;
    BDRVQcow2State *s = bs->opaque;
    int ret;

    if (!s->lazy_refcounts) {
        return qcow2_flush_refcounts(bs);
    }
    ret = qcow2_sync_tables(bs);
    if (ret < 0 || !s->l2_needs_sync) {
        return ret;
    }
    return sync_file(bs);
}

int qcow2_write_table64(BlockDriverState *bs, int kind, uint64_t offset, const uint64_t *table,
                        uint32_t n)
{
    g_autofree uint64_t *be = g_new(uint64_t, MAX(n, 1));

    for (uint32_t i = 0; i < n; i++) {
        be[i] = GUINT64_TO_BE(table[i]);
    }
    return qcow2_pwrite_checked(bs, kind, offset, be, (uint64_t)n * 8, false);
}

static int write_l1(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_write_table64(bs, QCOW2_OL_ACTIVE_L1, s->l1_offset, s->l1_table, s->l1_size);

    if (ret >= 0) {
        s->l1_dirty = false;
    }
    return ret;
}

/*
 * Lazy refcounts: L2 tables (after the flush qcow2_before_l2_write may still need), then
 * the refcount blocks with no flush in between, then the L1 after a flush, since an L1
 * entry must never point to an L2 table that is not on disk. A guest flush thus costs one
 * flush of the file (its own) where the refcount order costs two.
 */
static int flush_metadata_lazy(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_cache_write(s->l2_cache);

    if (ret < 0 || (ret = qcow2_cache_write(s->refblock_cache)) < 0 || !s->l1_dirty) {
        return ret;
    }
    ret = bdrv_flush(bs->file);
    return ret < 0 ? ret : write_l1(bs);
}

int qcow2_flush_metadata(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = qcow2_sync_tables(bs);

    if (ret < 0) {
        return ret;
    }
    if (s->lazy_refcounts) {
        return flush_metadata_lazy(bs);
    }
    if (!cache_is_dirty(s->l2_cache) && !s->l1_dirty) {
        return qcow2_cache_write(s->refblock_cache);
    }
    ret = cache_is_dirty(s->l2_cache) ? qcow2_cache_write(s->l2_cache) : qcow2_flush_refcounts(bs);
    if (ret < 0 || !s->l1_dirty) {
        return ret;
    }
    ret = bdrv_flush(bs->file);
    return ret < 0 ? ret : write_l1(bs);
}
