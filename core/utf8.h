/* UTF-8 validation as Go's decoder does it, for text that must be quoted or escaped exactly
 * like etcd's (flag errors, JSON log lines).
 *
 * Thread: any; pure. */
#ifndef RINGD_UTF8_H
#define RINGD_UTF8_H

#include <stddef.h>

/* Length (2 to 4) of the valid multi-byte UTF-8 sequence at s, which has n >= 1 bytes left, or
 * 0 when it is not one: no overlong forms, no surrogates, nothing above U+10FFFF. ASCII bytes
 * give 0 too; callers handle them first. */
size_t utf8_sequence_len(const unsigned char *s, size_t n);

#endif
