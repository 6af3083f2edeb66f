/* Go's string quoting; see go_quote.h. */
#include "go_quote.h"

#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"
#include "utf8.h"

size_t go_quote_char(const unsigned char *s, size_t n, char esc[GO_QUOTE_CHAR_BYTES_MAX],
                     size_t *consumed)
{
    static const char escapes[] = "\a\b\f\n\r\t\v";
    static const char letters[] = "abfnrtv";
    ASSERT(s != NULL && n >= 1 && esc != NULL && consumed != NULL);
    *consumed = 1;
    if (s[0] >= 0x80) {
        size_t len = utf8_sequence_len(s, n);
        if (len > 0) {
            memcpy(esc, s, len);
            *consumed = len;
            return len;
        }
    } else if (s[0] >= 0x20 && s[0] < 0x7f) {
        size_t k = 0;
        if (s[0] == '"' || s[0] == '\\')
            esc[k++] = '\\';
        esc[k++] = (char)s[0];
        return k;
    } else if (s[0] != 0 && strchr(escapes, s[0]) != NULL) {
        esc[0] = '\\';
        esc[1] = letters[strchr(escapes, s[0]) - escapes];
        return 2;
    }
    int k = snprintf(esc, GO_QUOTE_CHAR_BYTES_MAX, "\\x%02x", s[0]);
    ASSERT(k == 4);
    return (size_t)k;
}

size_t go_quote(char *out, size_t out_bytes, const char *s, size_t len)
{
    ASSERT(out != NULL && out_bytes >= 3 && (s != NULL || len == 0));
    size_t w = 0;
    out[w++] = '"';
    for (size_t i = 0; i < len;) {
        char esc[GO_QUOTE_CHAR_BYTES_MAX];
        size_t consumed, k = go_quote_char((const unsigned char *)s + i, len - i, esc, &consumed);
        if (w + k + 2 > out_bytes)
            break;
        memcpy(out + w, esc, k);
        w += k;
        i += consumed;
    }
    out[w++] = '"';
    out[w] = '\0';
    ASSERT(w < out_bytes);
    return w;
}
