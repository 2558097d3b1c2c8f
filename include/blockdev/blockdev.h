/*
 * -drive, as QEMU 2.2 has it: the option string (and -hda, -cdrom, -fda ... built on it)
 * becomes a named BlockBackend carrying a legacy DriveInfo (interface, bus, unit, media,
 * geometry, serial), which board code and device models look up by (interface, bus, unit)
 * and claim. Two steps: drive_parse() turns options into a DriveConfig without touching
 * any image (all of 2.2's checks and messages, unit-testable), drive_new() opens it.
 * Not blockdev-add or the monitor commands.
 */
#ifndef BLOCKDEV_BLOCKDEV_H
#define BLOCKDEV_BLOCKDEV_H

#include <json-glib/json-glib.h>
#include "block/block-backend.h"
#include "util/opts.h"

/* drive_add(): no if=, so the drive gets the machine's default interface. */
#define IF_DEFAULT IF_COUNT

/* DriveInfo.trans: the BIOS CHS translation hint (trans=). */
typedef enum BiosAtaTranslation {
    BIOS_ATA_TRANSLATION_AUTO,
    BIOS_ATA_TRANSLATION_NONE,
    BIOS_ATA_TRANSLATION_LBA,
    BIOS_ATA_TRANSLATION_LARGE,
    BIOS_ATA_TRANSLATION_RECHS,
} BiosAtaTranslation;

/* Everything a -drive asks for, checked; nothing opened. */
typedef struct DriveConfig {
    /* The legacy front end (QEMU's drive_new()). */
    BlockInterfaceType type;
    int bus, unit;
    int index; /* index= as given, -1 when absent */
    char *id;  /* given, or generated: "ide0-hd0", "floppy0", ... */
    bool media_cd;
    int cyls, heads, secs; /* 0: not given */
    BiosAtaTranslation trans;
    char *serial;
    char *devaddr; /* addr= (if=virtio) */
    char *file;    /* NULL when absent */
    /* Block options shared with blockdev-add (QEMU's blockdev_init()). */
    bool format_help; /* format=help: list the formats instead of opening */
    char *format;     /* NULL: probe */
    bool read_only, copy_on_read, snapshot;
    int flags; /* BDRV_O_* to open with */
    BlockdevOnError on_read_error, on_write_error;
    BlockdevDetectZeroesOptions detect_zeroes;
    ThrottleConfig throttle;
    char *throttle_group;    /* throttling.group, NULL: the drive's own name */
    bool empty;              /* no file and no driver options: a drive without medium */
    JsonObject *driver_opts; /* every other option, flat dotted keys, for the open */
    JsonObject *opts;        /* all options after legacy renames and cache= expansion */
} DriveConfig;

/* What drive_parse() asks about the world; drive_new() answers from the real registries. */
typedef struct DriveEnv {
    BlockInterfaceType default_type; /* for a drive without if= */
    bool (*slot_taken)(BlockInterfaceType type, int bus, int unit, void *opaque);
    bool (*format_exists)(const char *format, void *opaque);
    void *opaque;
} DriveEnv;

/* ---- Option strings ---- */
/* "-drive OPTS": any keys; only a bad id= is refused here. */
Opts *drive_def(const char *optstr, Error **errp);
/* -hda, -cdrom, -fda ...: optstr plus if=type (unless IF_DEFAULT), index= (if >= 0), file=
 * (if not NULL). */
Opts *drive_add(BlockInterfaceType type, int index, const char *file, const char *optstr,
                Error **errp);
/* -snapshot: snapshot=on unless the drive says otherwise. */
void drive_enable_snapshot(Opts *opts);
/* "ide", "scsi", ... */
const char *drive_if_name(BlockInterfaceType type);
/* Units per bus: 2 for IDE, 7 for SCSI, 0 (unlimited, one bus) for the others. */
int drive_get_max_devs(BlockInterfaceType type);

/* ---- Parsing ---- */
/*
 * Check opts as QEMU 2.2's drive_new() and blockdev_init() do, in their order and with
 * their messages; fill *out (drive_config_clear() it). May print 2.2's warnings (boot=,
 * copy-on-read on a read-only drive) at the current error location.
 */
bool drive_parse(const Opts *opts, const DriveEnv *env, DriveConfig *out, Error **errp);
void drive_config_clear(DriveConfig *cfg);

/* ---- Drives ---- */
/*
 * Parse and open: a new BlockBackend named by the drive id, with its DriveInfo and error
 * policy. NULL with errp set on failure; NULL without an error after format=help printed
 * the list (QEMU 2.2 then exits with status 1). opts stays the caller's.
 */
BlockBackend *drive_new(const Opts *opts, BlockInterfaceType default_type, Error **errp);
/* The board's default drives (2.2's vl.c): an empty CD-ROM at index 2 of default_type,
 * floppy 0 and SD card 0, each unless a drive holds its place. Marked is_default. */
bool drive_add_defaults(BlockInterfaceType default_type, bool snapshot, Error **errp);

DriveInfo *drive_get(BlockInterfaceType type, int bus, int unit);
DriveInfo *drive_get_by_index(BlockInterfaceType type, int index);
int drive_get_max_bus(BlockInterfaceType type); /* -1 when there is none */
/* The next unit of bus 0, for single-drive devices (floppy, SD, pflash, MTD). */
DriveInfo *drive_get_next(BlockInterfaceType type);
/* The backend a DriveInfo belongs to. */
BlockBackend *drive_get_blk(const DriveInfo *dinfo);
/*
 * HMP drive_add of a drive whose interface is not none: the board attaches it to the
 * controller at pci_addr (QEMU 2.2's pci_drive_hot_add; unit: unit= as given, else -1) and
 * returns the monitor's reply, or NULL with errp. Without such a board hook: "Can't hot-add
 * drive to type N".
 */
typedef char *DriveHotAddFunc(void *opaque, const char *pci_addr, DriveInfo *dinfo, int unit,
                              Error **errp);
void drive_set_hot_add(DriveHotAddFunc *fn, void *opaque);
/*
 * A device model takes a drive: its backend gets dev attached (no longer an orphan).
 * Returns the backend, or NULL if another device already has it.
 */
BlockBackend *drive_claim(DriveInfo *dinfo, void *dev);
/*
 * Print "Warning: Orphaned drive without device: id=...,file=...,if=...,bus=N,unit=N" for
 * every drive the user gave an interface other than none and no device claimed.
 * Returns whether there was any.
 */
bool drive_check_orphans(void);

#endif
