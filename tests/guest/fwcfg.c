/*
 * QEMU fw_cfg through the port interface (selector 0x510, data 0x511): signature check and
 * file lookup in the directory (key 0x19). No DMA: `rep insb` moves a whole item per exit.
 */
#include "guest.h"
#include "io.h"

enum {
    FW_CFG_PORT_SEL = 0x510,
    FW_CFG_PORT_DATA = 0x511,
    FW_CFG_SIGNATURE = 0x00,
    FW_CFG_FILE_DIR = 0x19,
};

typedef struct FWCfgFile {
    uint32_t size;              /* big-endian, as all directory fields */
    uint16_t select;
    uint16_t reserved;
    char name[56];
} FWCfgFile;

static uint32_t be32(uint32_t v)
{
    return __builtin_bswap32(v);
}

void fw_cfg_select(uint16_t key)
{
    outw(FW_CFG_PORT_SEL, key);
}

void fw_cfg_read(void *buf, size_t len)
{
    insb(FW_CFG_PORT_DATA, buf, len);
}

bool fw_cfg_present(void)
{
    char sig[4];
    fw_cfg_select(FW_CFG_SIGNATURE);
    fw_cfg_read(sig, sizeof(sig));
    return memcmp(sig, "QEMU", 4) == 0;
}

int64_t fw_cfg_find_file(const char *name, uint16_t *key)
{
    uint32_t count;
    fw_cfg_select(FW_CFG_FILE_DIR);
    fw_cfg_read(&count, sizeof(count));
    for (count = be32(count); count; count--) {
        FWCfgFile f;
        fw_cfg_read(&f, sizeof(f));
        if (strncmp(f.name, name, sizeof(f.name)) == 0) {
            *key = __builtin_bswap16(f.select);
            return be32(f.size);
        }
    }
    return -1;
}
