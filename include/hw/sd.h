/*
 * SD memory cards and the bus between a card and its host controller. The card
 * (hw/sd/sd-card.c, device "sd-card" on an "sd-bus") speaks the SD Physical Layer protocol
 * (version 2.00: standard and high capacity cards): commands in, responses out, data one
 * byte stream per transfer. The controller (hw/sd/sdhci.c, "sdhci-pci") owns the bus and
 * moves commands, responses and data between its registers and the card. No SPI mode, no
 * SDIO, no MMC.
 */
#ifndef HW_SD_H
#define HW_SD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "block/block-backend.h"

#define QBUS_TYPE_SD "sd-bus"

typedef struct SDCard SDCard;

/*
 * The slot a card sits in, owned by the controller: at most one card. The card sets card
 * and calls changed() when it is plugged or unplugged, when its medium comes or goes
 * (eject/change) and when its read-only state may have changed.
 */
typedef struct SDBus {
    SDCard *card; /* NULL: empty slot */
    void (*changed)(void *opaque);
    void *opaque;
} SDBus;

/* Response lengths sd_card_do_command() returns. */
enum {
    SD_RSP_NONE = 0, /* no response: the host sees a command timeout */
    SD_RSP_48 = 4,   /* R1, R1b, R3, R6, R7: the 32 bits between index and CRC */
    SD_RSP_136 = 16, /* R2 (CID, CSD): bytes 0..14 are bits 127..8, byte 15 the CRC */
};

/*
 * Send command cmd (0..63) with argument arg; the card decodes it as an application
 * command when CMD55 came just before. Fills resp (big-endian, as on the wire) and returns
 * its length, SD_RSP_NONE for a command the card does not answer in its state (illegal
 * commands set ILLEGAL_COMMAND in the next status instead, as the spec says).
 */
int sd_card_do_command(SDCard *sd, uint8_t cmd, uint32_t arg, uint8_t resp[16]);

/*
 * The data phase of the last command. Reads copy up to len bytes the card is sending
 * (blocks of a read, SCR, SD status, switch status) into buf; writes hand it up to len
 * bytes of a write (each completed block goes to the drive at once). Both return how many
 * bytes moved: fewer than len (down to 0) when the transfer ended or failed (an I/O error
 * or an address out of range sets the card's error bits and ends it).
 */
size_t sd_card_read_data(SDCard *sd, void *buf, size_t len);
size_t sd_card_write_data(SDCard *sd, const void *buf, size_t len);
/* True while the card has data to send (a read transfer is in progress). */
bool sd_card_data_ready(SDCard *sd);
/* True while the card is in a write transfer (receive-data state). */
bool sd_card_receiving(SDCard *sd);

/* A medium is present (the drive has one and its tray is closed). */
bool sd_card_inserted(SDCard *sd);
/* The card's write-protect switch: the drive is read-only. */
bool sd_card_readonly(SDCard *sd);
/* Back to power-on state (machine reset; also what CMD0 does). */
void sd_card_reset(SDCard *sd);

#endif
