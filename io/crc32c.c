#include "crc32c.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "ringd_assert.h"

#define CRC32C_POLY_REFLECTED 0x82f63b78u

static uint32_t crc32c_table[8][256];
static bool crc32c_hw;
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        crc32c_table[0][i] = c;
    }
    /* Table t[k][i] advances t[k-1][i] by one more zero byte: slicing-by-8 reads eight input
     * bytes per step and combines eight lookups. */
    for (uint32_t i = 0; i < 256; i++) {
        for (int k = 1; k < 8; k++) {
            uint32_t prev = crc32c_table[k - 1][i];
            crc32c_table[k][i] = (prev >> 8) ^ crc32c_table[0][prev & 0xff];
        }
    }
    __builtin_cpu_init();
    crc32c_hw = __builtin_cpu_supports("sse4.2");
}

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t len)
{
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c; /* little-endian: the CRC meets the first four bytes */
        c = crc32c_table[7][w & 0xff] ^ crc32c_table[6][(w >> 8) & 0xff] ^
            crc32c_table[5][(w >> 16) & 0xff] ^ crc32c_table[4][(w >> 24) & 0xff] ^
            crc32c_table[3][(w >> 32) & 0xff] ^ crc32c_table[2][(w >> 40) & 0xff] ^
            crc32c_table[1][(w >> 48) & 0xff] ^ crc32c_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p++) & 0xff];
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t c, const uint8_t *p,
                                                               size_t len)
{
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = __builtin_ia32_crc32qi(c, *p++);
        len--;
    }
    uint64_t c64 = c;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
    while (len-- > 0)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}

uint32_t crc32c_update(uint32_t crc, const void *data, size_t len)
{
    ASSERT(data != NULL || len == 0);
    pthread_once(&crc32c_once, crc32c_init);
    /* The register form is the CRC without its pre- and post-inversion. */
    uint32_t c = ~crc;
    c = crc32c_hw ? crc32c_sse42(c, data, len) : crc32c_sw(c, data, len);
    return ~c;
}

uint32_t crc32c_update_portable(uint32_t crc, const void *data, size_t len)
{
    ASSERT(data != NULL || len == 0);
    pthread_once(&crc32c_once, crc32c_init);
    return ~crc32c_sw(~crc, data, len);
}
