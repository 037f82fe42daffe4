/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of the WAL records and snapshot files.
 *
 * Portable slicing-by-8 tables; on x86-64 with GCC or Clang the SSE4.2
 * crc32 instruction is used when the CPU has it (detected at run time).
 * Both paths give identical results.  The functions are thread-safe and
 * allocate nothing.
 */
#ifndef METASTORE_STORAGE_CRC32C_H
#define METASTORE_STORAGE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends `crc`, the CRC-32C of some bytes A, to the CRC-32C of A followed by
 * buf[0..len).  Start with crc = 0 (the CRC of no bytes); pre- and
 * post-inversion are handled inside, so
 *     crc32c_extend(crc32c_extend(0, a, n), b, m) == CRC-32C(a || b).
 * `buf` may be NULL when len is 0.
 */
uint32_t crc32c_extend(uint32_t crc, const void *buf, size_t len);

/* CRC-32C of buf[0..len): crc32c("123456789", 9) == 0xE3069283. */
uint32_t crc32c(const void *buf, size_t len);

/* The portable path alone, for tests that compare it with the fast one. */
uint32_t crc32c__extend_sw(uint32_t crc, const void *buf, size_t len);

/* True when crc32c_extend() uses the SSE4.2 instruction on this CPU. */
int crc32c__hw_available(void);

#endif /* METASTORE_STORAGE_CRC32C_H */
