/*
 * crc32c.c - CRC-32C for the WAL and snapshot files.
 *
 * Happy path: crc32c_extend() picks, once per process, the SSE4.2 crc32
 * instruction (x86-64, when cpuid says the CPU has it) or slicing-by-8
 * tables, and runs it over the buffer.  The tables are built once under
 * pthread_once, so concurrent first calls from the loop thread and the
 * thread pool are safe.  There is no failure mode.
 */
#include "storage/crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int use_hw;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HAVE_HW 1
#include <cpuid.h>
#include <nmmintrin.h>

static int cpu_has_sse42(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c & bit_SSE4_2) != 0;
}

__attribute__((target("sse4.2"))) static uint32_t
extend_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* aligned, but memcpy keeps UBSan quiet */
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    return (uint32_t)c;
}
#else
#define CRC32C_HAVE_HW 0
#endif

static void init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = table[0][i];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xffu] ^ (c >> 8);
            table[t][i] = c;
        }
    }
#if CRC32C_HAVE_HW
    use_hw = cpu_has_sse42();
#endif
}

/* Slicing-by-8 on the inverted register; little-endian byte order is
 * assembled explicitly so it also works on big-endian hosts. */
static uint32_t extend_sw(uint32_t c, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 |
                           (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
            table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^ table[3][p[4]] ^
            table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = table[0][(c ^ *p++) & 0xffu] ^ (c >> 8);
        len--;
    }
    return c;
}

uint32_t crc32c__extend_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&table_once, init_tables);
    return ~extend_sw(~crc, buf, len);
}

int crc32c__hw_available(void)
{
    pthread_once(&table_once, init_tables);
    return use_hw;
}

uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&table_once, init_tables);
    if (len == 0)
        return crc;
#if CRC32C_HAVE_HW
    if (use_hw)
        return ~extend_hw(~crc, buf, len);
#endif
    return ~extend_sw(~crc, buf, len);
}

uint32_t crc32c(const void *buf, size_t len)
{
    return crc32c_extend(0, buf, len);
}
