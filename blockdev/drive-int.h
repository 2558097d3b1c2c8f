/*
 * Shared by the -drive parser's files (drive-opts.c, drive-legacy.c, drive-common.c): the
 * two option tables 2.2 checks a -drive against, and the dictionary helpers that move
 * options from the flat option dictionary into a checked group. Not public: users of
 * -drive see blockdev/blockdev.h.
 */
#ifndef BLOCKDEV_DRIVE_INT_H
#define BLOCKDEV_DRIVE_INT_H

#include "blockdev/blockdev.h"

/* The front-end options of -drive (QEMU's qemu_legacy_drive_opts). */
extern const OptDesc drive_legacy_desc[];
/* The options shared with blockdev-add (QEMU's qemu_common_drive_opts). */
extern const OptDesc drive_common_desc[];

/* Legacy spellings (iops, bps_rd, readonly ...) to their new names; alias plus name fails. */
bool drive_apply_renames(JsonObject *dict, Error **errp);
/* cache=MODE into cache.writeback/direct/no-flush, each unless given explicitly. */
bool drive_expand_cache(JsonObject *dict, Error **errp);
/*
 * Move every option of desc out of dict into a new dictionary, checking its type with
 * 2.2's messages ("Parameter 'bus' expects a number"). NULL on error.
 */
JsonObject *drive_absorb(JsonObject *dict, const OptDesc *desc, Error **errp);
/* Typed reads of values drive_absorb() checked; def when absent. */
uint64_t drive_opt_number(JsonObject *dict, const char *key, uint64_t def);
bool drive_opt_bool(JsonObject *dict, const char *key, bool def);
const char *drive_opt_str(JsonObject *dict, const char *key);

int drive_index_to_bus_id(BlockInterfaceType type, int index);
int drive_index_to_unit_id(BlockInterfaceType type, int index);

/* blockdev_init()'s part: the common options left in dict after the legacy ones. */
bool drive_parse_common(JsonObject *dict, const DriveEnv *env, DriveConfig *cfg, Error **errp);

#endif
