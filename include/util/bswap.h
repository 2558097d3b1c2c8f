/*
 * Big-endian fields in byte buffers (SCSI/ATAPI CDBs and replies, fw_cfg, qcow2 headers):
 * load and store at any alignment, with QEMU's names (ld/st, w/l/q for 16/32/64 bits, _be,
 * _p for "through a pointer"). Not for guest memory: devices read that through their DMA
 * accessors into a buffer first.
 */
#ifndef UTIL_BSWAP_H
#define UTIL_BSWAP_H

#include <stdint.h>
#include <string.h>
#include <glib.h>

static inline uint16_t lduw_be_p(const void *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT16_FROM_BE(v);
}

static inline uint32_t ldl_be_p(const void *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_BE(v);
}

static inline uint64_t ldq_be_p(const void *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT64_FROM_BE(v);
}

static inline void stw_be_p(void *p, uint16_t v)
{
    v = GUINT16_TO_BE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void stl_be_p(void *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void stq_be_p(void *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, sizeof(v));
}

#endif
