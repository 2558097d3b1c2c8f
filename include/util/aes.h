/*
 * AES block cipher (FIPS-197) with 128, 192 and 256-bit keys, and its CBC mode (NIST SP
 * 800-38A), for encrypted disk images. AES-NI when the CPU has it, portable C otherwise. Not a
 * general crypto library: no other modes, no padding, no key derivation.
 */
#ifndef UTIL_AES_H
#define UTIL_AES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct AesKey {
    uint32_t enc[60];    /* expanded encryption round keys: FIPS-197 w[i], byte 0 in bits 31-24 */
    uint32_t dec[60];    /* equivalent inverse cipher's round keys, in the order it uses them */
    int rounds;          /* 10, 12 or 14 */
    uint8_t ni_enc[240]; /* enc and dec again as byte strings, as AES-NI loads them */
    uint8_t ni_dec[240];
} AesKey;

/* key_len 16, 24 or 32 bytes: 0; anything else: -1 (k untouched). */
int aes_set_key(AesKey *k, const uint8_t *key, size_t key_len);
void aes_encrypt_block(const AesKey *k, const uint8_t in[16], uint8_t out[16]);
void aes_decrypt_block(const AesKey *k, const uint8_t in[16], uint8_t out[16]);
/*
 * CBC over len bytes (a multiple of 16); in == out allowed (in place), other overlaps not.
 * iv is the initial vector and is NOT updated.
 */
void aes_cbc_encrypt(const AesKey *k, const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                     size_t len);
void aes_cbc_decrypt(const AesKey *k, const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                     size_t len);

/* Whether the CPU has AES-NI (whatever aes_force_portable() says). */
bool aes_ni_available(void);
/* For tests and benchmarks: use the portable code even where AES-NI is available. */
void aes_force_portable(bool on);

#endif
