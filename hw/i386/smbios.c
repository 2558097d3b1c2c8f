/*
 * The SMBIOS structures QEMU's pc machine hands SeaBIOS (types 1, 3, 4 per CPU, 16, 17 per
 * 16 GiB of RAM, 19 per RAM range, 32 and 127) and their 2.8 entry point, laid out field for
 * field as QEMU 7.2 lays them out (tests/system/test_smbios.py compares the bytes). Only
 * the formatted areas and strings; what a guest does with them is not modelled here.
 */
#include <string.h>
#include "hw/smbios.h"

#define SMBIOS_DIMM_MAX (16ULL << 30) /* one type 17 device per 16 GiB, as QEMU */
#define SMBIOS_CPU_MHZ 2000

typedef struct SmbiosBuilder {
    GByteArray *t;
    unsigned count, max_size;
    guint start; /* offset of the current structure */
    unsigned nstrings;
    GString *strings;
} SmbiosBuilder;

static void put8(GByteArray *a, uint8_t v)
{
    g_byte_array_append(a, &v, 1);
}

static void put16(GByteArray *a, uint16_t v)
{
    uint16_t le = GUINT16_TO_LE(v);
    g_byte_array_append(a, (const guint8 *)&le, 2);
}

static void put32(GByteArray *a, uint32_t v)
{
    uint32_t le = GUINT32_TO_LE(v);
    g_byte_array_append(a, (const guint8 *)&le, 4);
}

static void put64(GByteArray *a, uint64_t v)
{
    uint64_t le = GUINT64_TO_LE(v);
    g_byte_array_append(a, (const guint8 *)&le, 8);
}

static void zeros(GByteArray *a, unsigned n)
{
    while (n--) {
        put8(a, 0);
    }
}

static void smbios_begin(SmbiosBuilder *b, uint8_t type, uint16_t handle)
{
    b->start = b->t->len;
    b->nstrings = 0;
    g_string_truncate(b->strings, 0);
    put8(b->t, type);
    put8(b->t, 0); /* length, set by smbios_end() */
    put16(b->t, handle);
}

/* A string field: its number, the string kept for the string set. */
static void smbios_str(SmbiosBuilder *b, const char *s)
{
    g_string_append_len(b->strings, s, strlen(s) + 1);
    put8(b->t, ++b->nstrings);
}

static void smbios_end(SmbiosBuilder *b)
{
    unsigned size;

    b->t->data[b->start + 1] = b->t->len - b->start;
    g_byte_array_append(b->t, (const guint8 *)b->strings->str, b->strings->len);
    zeros(b->t, b->nstrings ? 1 : 2); /* the set ends with a double NUL */
    size = b->t->len - b->start;
    b->max_size = MAX(b->max_size, size);
    b->count++;
}

static void smbios_type1(SmbiosBuilder *b, const SmbiosConfig *c)
{
    smbios_begin(b, 1, 0x100);
    smbios_str(b, "QEMU");
    smbios_str(b, "Standard PC (i440FX + PIIX, 1996)");
    smbios_str(b, c->version);
    put8(b->t, 0);   /* serial number */
    zeros(b->t, 16); /* UUID: none given */
    put8(b->t, 6);   /* wake-up type: power switch */
    put8(b->t, 0);   /* SKU */
    put8(b->t, 0);   /* family */
    smbios_end(b);
}

static void smbios_type3(SmbiosBuilder *b, const SmbiosConfig *c)
{
    smbios_begin(b, 3, 0x300);
    smbios_str(b, "QEMU");
    put8(b->t, 1); /* type: other */
    smbios_str(b, c->version);
    put8(b->t, 0); /* serial number */
    put8(b->t, 0); /* asset tag */
    put8(b->t, 3); /* boot-up, power supply, thermal state: safe */
    put8(b->t, 3);
    put8(b->t, 3);
    put8(b->t, 2);  /* security status: unknown */
    put32(b->t, 0); /* OEM */
    put8(b->t, 0);  /* height */
    put8(b->t, 0);  /* power cords */
    put8(b->t, 0);  /* contained elements, their record length */
    put8(b->t, 0);
    put8(b->t, 0); /* SKU */
    smbios_end(b);
}

static void smbios_type4(SmbiosBuilder *b, const SmbiosConfig *c, unsigned cpu)
{
    g_autofree char *socket = g_strdup_printf("CPU %u", cpu);

    smbios_begin(b, 4, 0x400 + cpu);
    smbios_str(b, socket);
    put8(b->t, 3); /* central processor */
    put8(b->t, 1); /* family: other */
    smbios_str(b, "QEMU");
    put32(b->t, c->cpuid_eax);
    put32(b->t, c->cpuid_edx);
    smbios_str(b, c->version);
    put8(b->t, 0);  /* voltage */
    put16(b->t, 0); /* external clock */
    put16(b->t, SMBIOS_CPU_MHZ);
    put16(b->t, SMBIOS_CPU_MHZ);
    put8(b->t, 0x41);    /* populated, enabled */
    put8(b->t, 1);       /* upgrade: other */
    put16(b->t, 0xffff); /* no L1, L2, L3 cache structures */
    put16(b->t, 0xffff);
    put16(b->t, 0xffff);
    zeros(b->t, 3); /* serial, asset, part */
    put8(b->t, 1);  /* cores, enabled, threads */
    put8(b->t, 1);
    put8(b->t, 1);
    put16(b->t, 0x0002); /* characteristics: unknown */
    put16(b->t, 0x0001); /* family 2 */
    smbios_end(b);
}

static void smbios_type16(SmbiosBuilder *b, uint64_t ram, unsigned dimms)
{
    uint64_t kib = ram >> 10;

    smbios_begin(b, 16, 0x1000);
    put8(b->t, 1); /* location: other */
    put8(b->t, 3); /* use: system memory */
    put8(b->t, 6); /* error correction: multi-bit ECC */
    put32(b->t, kib < 0x80000000ULL ? kib : 0x80000000U);
    put16(b->t, 0xfffe); /* no error information */
    put16(b->t, dimms);
    put64(b->t, kib < 0x80000000ULL ? 0 : ram);
    smbios_end(b);
}

static void smbios_type17(SmbiosBuilder *b, unsigned i, uint64_t size)
{
    g_autofree char *loc = g_strdup_printf("DIMM %u", i);
    uint64_t mib = size >> 20;

    smbios_begin(b, 17, 0x1100 + i);
    put16(b->t, 0x1000);
    put16(b->t, 0xfffe);
    put16(b->t, 0xffff); /* total and data width unknown */
    put16(b->t, 0xffff);
    put16(b->t, mib < 0x7fff ? mib : 0x7fff);
    put8(b->t, 9); /* form factor: DIMM */
    put8(b->t, 0); /* device set */
    smbios_str(b, loc);
    put8(b->t, 0);       /* bank locator */
    put8(b->t, 7);       /* memory type: RAM */
    put16(b->t, 0x0002); /* type detail: other */
    put16(b->t, 0);      /* speed */
    smbios_str(b, "QEMU");
    zeros(b->t, 3); /* serial, asset, part */
    put8(b->t, 0);  /* attributes */
    put32(b->t, mib < 0x7fff ? 0 : mib);
    put16(b->t, 0); /* configured speed, min/max/configured voltage */
    zeros(b->t, 6);
    smbios_end(b);
}

static void smbios_type19(SmbiosBuilder *b, unsigned i, uint64_t start, uint64_t size)
{
    uint64_t end = start + size - 1;

    smbios_begin(b, 19, 0x1300 + i);
    if (end >> 10 < 0xffffffffULL) {
        put32(b->t, start >> 10);
        put32(b->t, end >> 10);
    } else {
        put32(b->t, 0xffffffffU);
        put32(b->t, 0xffffffffU);
    }
    put16(b->t, 0x1000);
    put8(b->t, 1); /* partition width */
    put64(b->t, end >> 10 < 0xffffffffULL ? 0 : start);
    put64(b->t, end >> 10 < 0xffffffffULL ? 0 : end);
    smbios_end(b);
}

static void smbios_simple(SmbiosBuilder *b, uint8_t type, uint16_t handle, unsigned len)
{
    smbios_begin(b, type, handle);
    zeros(b->t, len - 4);
    smbios_end(b);
}

static void smbios_memory(SmbiosBuilder *b, const SmbiosConfig *c)
{
    uint64_t ram = c->below_4g_mem + c->above_4g_mem;
    unsigned dimms = (ram + SMBIOS_DIMM_MAX - 1) / SMBIOS_DIMM_MAX;
    unsigned n = 0;

    smbios_type16(b, ram, dimms);
    for (unsigned i = 0; i < dimms; i++) {
        uint64_t left = ram - i * SMBIOS_DIMM_MAX;
        smbios_type17(b, i, MIN(left, SMBIOS_DIMM_MAX));
    }
    smbios_type19(b, n++, 0, c->below_4g_mem);
    if (c->above_4g_mem) {
        smbios_type19(b, n++, 1ULL << 32, c->above_4g_mem);
    }
}

static GByteArray *smbios_anchor(const SmbiosBuilder *b)
{
    GByteArray *a = g_byte_array_new();

    g_byte_array_append(a, (const guint8 *)"_SM_", 4);
    put8(a, 0); /* checksum: the firmware sets it */
    put8(a, 0x1f);
    put8(a, 2); /* version 2.8 */
    put8(a, 8);
    put16(a, b->max_size);
    put8(a, 0); /* entry point revision */
    zeros(a, 5);
    g_byte_array_append(a, (const guint8 *)"_DMI_", 5);
    put8(a, 0); /* intermediate checksum */
    put16(a, b->t->len);
    put32(a, 0); /* table address: the firmware sets it */
    put16(a, b->count);
    put8(a, 0x28);
    return a;
}

void smbios_build(const SmbiosConfig *c, GByteArray **anchor, GByteArray **tables)
{
    SmbiosBuilder b = {.t = g_byte_array_new(), .strings = g_string_new(NULL)};

    smbios_type1(&b, c);
    smbios_type3(&b, c);
    for (unsigned i = 0; i < c->cpus; i++) {
        smbios_type4(&b, c, i);
    }
    smbios_memory(&b, c);
    smbios_simple(&b, 32, 0x2000, 11);
    smbios_simple(&b, 127, 0x7f00, 4);
    g_string_free(b.strings, TRUE);
    *anchor = smbios_anchor(&b);
    *tables = b.t;
}
