/*
 * Signatures of disk image formats, whether or not minivmm has a driver for them. The
 * probed-raw guard uses them so that a guest cannot turn a probed raw image into, say, a
 * VMDK or VHD header that another tool (or a later minivmm) would then trust. Drivers we do
 * have are also recognised through their own probe functions. Not a probe: nothing here
 * opens an image.
 */
#include <string.h>
#include "block/block-internal.h"

typedef struct FormatMagic {
    const char *format;
    unsigned offset;
    const char *magic;
    unsigned len;
} FormatMagic;

#define MAGIC(fmt, off, str) { fmt, off, str, sizeof(str) - 1 }

static const FormatMagic format_magics[] = {
    MAGIC("qcow/qcow2", 0, "QFI\xfb"),
    MAGIC("qed", 0, "QED\0"),
    MAGIC("vmdk", 0, "KDMV"),
    MAGIC("vmdk3", 0, "COWD"),
    MAGIC("vmdk descriptor", 0, "# Disk DescriptorFile"),
    MAGIC("vpc", 0, "conectix"),
    MAGIC("vhdx", 0, "vhdxfile"),
    MAGIC("vdi", 0x40, "\x7f\x10\xda\xbe"),
    MAGIC("luks", 0, "LUKS\xba\xbe"),
    MAGIC("bochs", 0, "Bochs Virtual HD Image"),
    MAGIC("parallels", 0, "WithoutFreeSpace"),
    MAGIC("parallels", 0, "WithouFreSpacExt"),
    MAGIC("cloop", 0, "#!/bin/sh\n#V2.0 Format\n"),
};

const char *bdrv_find_format_magic(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(format_magics) / sizeof(format_magics[0]); i++) {
        const FormatMagic *m = &format_magics[i];
        if (m->offset + m->len <= len && !memcmp(buf + m->offset, m->magic, m->len)) {
            return m->format;
        }
    }
    return NULL;
}
