/* hmac_sha256.h - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104). */
#ifndef DSM_HMAC_SHA256_H
#define DSM_HMAC_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define DSM_SHA256_LEN 32

struct dsm_sha256 {
    uint32_t h[8];
    uint64_t total;      /* bytes hashed so far */
    uint8_t block[64];
    size_t used;         /* bytes waiting in block */
};

void dsm_sha256_init(struct dsm_sha256 *s);
void dsm_sha256_update(struct dsm_sha256 *s, const void *data, size_t len);
void dsm_sha256_final(struct dsm_sha256 *s, uint8_t out[DSM_SHA256_LEN]);
void dsm_sha256(const void *data, size_t len, uint8_t out[DSM_SHA256_LEN]);

struct dsm_hmac {
    struct dsm_sha256 inner, outer;
};

void dsm_hmac_init(struct dsm_hmac *h, const void *key, size_t keylen);
void dsm_hmac_update(struct dsm_hmac *h, const void *data, size_t len);
void dsm_hmac_final(struct dsm_hmac *h, uint8_t out[DSM_SHA256_LEN]);
void dsm_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                     uint8_t out[DSM_SHA256_LEN]);

/* Compares without data-dependent timing; 1 if equal. */
int dsm_mac_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
