/* Go's strconv.Quote (what %q prints for a string), for error texts that must read exactly like
 * etcd's: flag errors in config, bootstrap errors in cluster_id.
 *
 * Thread: any; pure, no allocation. */
#ifndef RINGD_GO_QUOTE_H
#define RINGD_GO_QUOTE_H

#include <stddef.h>

/* The longest quoted form of one character ("\x01" and a 4-byte UTF-8 sequence both fit). */
#define GO_QUOTE_CHAR_BYTES_MAX 8

/* Writes the quoted form of the character at s, which has n >= 1 bytes left, into esc and
 * returns its length; *consumed is set to the bytes of s it stands for. Printable ASCII stays
 * (with '"' and '\\' escaped), \a \b \f \n \r \t \v get their letter, a valid multi-byte UTF-8
 * sequence stays as is (as Go keeps printable runes; ringd does not check Unicode printability),
 * and any other byte becomes \xNN. */
size_t go_quote_char(const unsigned char *s, size_t n, char esc[GO_QUOTE_CHAR_BYTES_MAX],
                     size_t *consumed);

/* Writes the len bytes at s quoted, with the surrounding '"', into out (out_bytes >= 3). A text
 * that does not fit is cut before the first character whose quoted form would not fit; the
 * closing '"' and the NUL are always written. Returns the length written, without the NUL. */
size_t go_quote(char *out, size_t out_bytes, const char *s, size_t len);

#endif
