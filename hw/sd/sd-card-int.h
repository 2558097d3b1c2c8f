/*
 * Between the SD card's state machine (sd-card.c) and its register contents
 * (sd-card-regs.c): pure functions on byte arrays. Not for the controller, which sees the
 * card through include/hw/sd.h.
 */
#ifndef HW_SD_SD_CARD_INT_H
#define HW_SD_SD_CARD_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "util/error.h"

#define SDSC_MAX_CAPACITY (2ull << 30) /* larger cards are high capacity (CCS) */

void sd_card_make_cid(uint8_t cid[16]);
void sd_card_make_csd(uint8_t csd[16], uint64_t size);
void sd_card_make_scr(uint8_t scr[8], unsigned spec_version);
void sd_card_make_switch_status(uint8_t status[64], uint32_t arg);
bool sd_card_program_csd(uint8_t csd[16], const uint8_t data[16]);
bool sd_card_set_password(const uint8_t *data, uint32_t blk_len, uint8_t pwd[16], uint32_t *pwd_len,
                          bool *locked);
bool sd_card_check_size(uint64_t size, Error **errp);
extern const uint8_t sd_card_tuning_block[64];

#endif
