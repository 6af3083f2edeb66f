/* CRC-32C (Castagnoli), the checksum of WAL records: the SSE4.2 crc32 instruction when the CPU
 * has it (checked once at run time), a slicing-by-8 table otherwise.
 *
 * Thread: any; the tables are built on first use under a once-guard. */
#ifndef RINGD_CRC32C_H
#define RINGD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32C of data continued from crc, the result of an earlier call or 0 to start:
 * crc32c_update(0, "123456789", 9) is 0xe3069283, and crc32c_update(crc32c_update(0, a), b) is
 * the CRC of a followed by b (the convention of Go's crc32.Update, which etcd's WAL chains). */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);

/* The same through the table only, whatever the CPU: for tests that compare the two. */
uint32_t crc32c_update_portable(uint32_t crc, const void *data, size_t len);

#endif
