/*
 * SMBIOS tables for the pc board, handed to the firmware through fw_cfg as QEMU does
 * (etc/smbios/smbios-anchor: an SMBIOS 2.8 entry point with address and checksums left for
 * the firmware; etc/smbios/smbios-tables: the structures). SeaBIOS then only copies them and
 * adds its own type 0; without them it builds tables itself, a loop that costs about a
 * second of KVM-emulated POST on hosts without hardware virtualisation.
 */
#ifndef HW_SMBIOS_H
#define HW_SMBIOS_H

#include <stdint.h>
#include <glib.h>

typedef struct SmbiosConfig {
    unsigned cpus;
    uint32_t cpuid_eax, cpuid_edx; /* CPUID leaf 1: processor ID of type 4 */
    uint64_t below_4g_mem, above_4g_mem;
    const char *version; /* machine version string, e.g. "pc-i440fx-2.2" */
} SmbiosConfig;

/* Build both blobs (g_byte_array_unref them). */
void smbios_build(const SmbiosConfig *c, GByteArray **anchor, GByteArray **tables);

#endif
