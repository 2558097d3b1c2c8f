/*
 * QMP's `transaction`: a list of actions done all or nothing. Each action type is one
 * BlkActionOps (prepare/commit/abort/clean, as QEMU 2.2) registered from the file that
 * implements it, so a new type (drive-backup, from the jobs work) is one struct and one
 * registration line:
 *
 *     static const BlkActionOps backup_action = {
 *         .type = "drive-backup", .args_type = "device:s,target:s,...",
 *         .instance_size = sizeof(BackupState),
 *         .prepare = backup_prepare, .abort = backup_abort,
 *     };
 *     BLK_ACTION_REGISTER(backup_action);
 *
 * prepare runs in list order and may fail; after the first failure every action prepared so
 * far (the failing one included) gets abort, in list order; if all succeed, every action gets
 * commit, which cannot fail. clean always runs last. Runs in the main thread with the BQL.
 */
#ifndef BLOCKDEV_TRANSACTION_H
#define BLOCKDEV_TRANSACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <json-glib/json-glib.h>
#include "util/error.h"

typedef struct BlkActionState BlkActionState;

typedef struct BlkActionOps {
    const char *type;      /* the "type" of {"type": ..., "data": {...}} */
    /* The members of "data" (NAME:s|b|i, '?' when optional), checked in this order with
     * 2.2's QAPI visitor messages; NULL or "" for none. */
    const char *args_type;
    /* Optional: further checks of the data when it is parsed (enumeration values). */
    bool (*check)(JsonObject *data, Error **errp);
    size_t instance_size;  /* >= sizeof(BlkActionState): the action's private state */
    void (*prepare)(BlkActionState *state, Error **errp);
    void (*commit)(BlkActionState *state);
    void (*abort)(BlkActionState *state);
    void (*clean)(BlkActionState *state);
} BlkActionOps;

/* The head of every action's state (first member of the action's own struct). */
struct BlkActionState {
    const BlkActionOps *ops;
    JsonObject *data;      /* the checked "data" object (owned by the transaction) */
};

void blk_action_register(const BlkActionOps *ops);
#define BLK_ACTION_REGISTER(ops)                                                                   \
    static void __attribute__((constructor)) blk_action_register_##ops(void)                       \
    {                                                                                              \
        blk_action_register(&ops);                                                                 \
    }

/*
 * Run a transaction: actions is the QMP "actions" argument (checked here: a list of
 * {"type", "data"} objects, with 2.2's visitor messages). Every action is checked before
 * any is prepared. Used by `transaction` and by the single-action snapshot commands.
 */
bool blk_transaction_run(JsonNode *actions, Error **errp);
/* The same for one action of type with data (a new reference is taken). */
bool blk_transaction_run_one(const char *type, JsonObject *data, Error **errp);

#endif
