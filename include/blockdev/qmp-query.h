/*
 * The monitor's block queries: query-block / query-blockstats (blockdev/qmp-query.c) and
 * their HMP output, info block / info blockstats (blockdev/hmp-query.c).
 */
#ifndef BLOCKDEV_QMP_QUERY_H
#define BLOCKDEV_QMP_QUERY_H

#include <json-glib/json-glib.h>
#include "block/block-backend.h"
#include "monitor/command.h"

/* BlockDeviceInfo of bs (the "inserted" member; blk may be NULL for a bare node). */
JsonObject *qmp_block_device_info(BlockBackend *blk, BlockDriverState *bs);

void hmp_print_block(Monitor *mon, JsonObject *args, JsonNode *ret);
void hmp_print_blockstats(Monitor *mon, JsonObject *args, JsonNode *ret);

#endif
