/* gRPC framing helpers; see grpc_frame.h. */
#include "grpc_frame.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"

#define NS_PER_US   1000ull
#define NS_PER_MS   1000000ull
#define NS_PER_S    1000000000ull
#define NS_PER_HOUR (3600ull * NS_PER_S)

/* The spec's bound: at most 8 digits. */
#define GRPC_TIMEOUT_DIGITS_MAX 8

static uint64_t grpc_timeout_unit_ns(char unit)
{
    switch (unit) {
    case 'H':
        return NS_PER_HOUR;
    case 'M':
        return 60 * NS_PER_S;
    case 'S':
        return NS_PER_S;
    case 'm':
        return NS_PER_MS;
    case 'u':
        return NS_PER_US;
    case 'n':
        return 1;
    default:
        return 0;
    }
}

int grpc_timeout_parse(const char *value, size_t len, uint64_t *timeout_ns)
{
    ASSERT(value != NULL && timeout_ns != NULL);
    /* Two characters at least (a digit and the unit); at most 8 digits and the unit. A sign
     * counts against the 9, as grpc-go checks the length before parsing. */
    if (len < 2 || len > GRPC_TIMEOUT_DIGITS_MAX + 1)
        return -EINVAL;
    uint64_t unit_ns = grpc_timeout_unit_ns(value[len - 1]);
    if (unit_ns == 0)
        return -EINVAL;
    size_t i = 0;
    bool negative = value[0] == '-';
    if (value[0] == '-' || value[0] == '+')
        i++;
    if (i == len - 1)
        return -EINVAL;
    uint64_t count = 0;
    for (; i < len - 1; i++) {
        if (value[i] < '0' || value[i] > '9')
            return -EINVAL;
        count = count * 10 + (uint64_t)(value[i] - '0');
    }
    if (negative) {
        *timeout_ns = 0;
        return 0;
    }
    /* 8 digits times any unit but hours fits in 63 bits; hours clamp like grpc-go's. */
    const uint64_t max_ns = (uint64_t)INT64_MAX;
    *timeout_ns = count > max_ns / unit_ns ? max_ns : count * unit_ns;
    return 0;
}

size_t grpc_timeout_format(char *out, size_t out_bytes, uint64_t timeout_ms)
{
    ASSERT(out != NULL && out_bytes >= GRPC_TIMEOUT_DIGITS_MAX + 2);
    static const struct {
        char unit;
        uint64_t ms;
    } units[] = {{'m', 1}, {'S', 1000}, {'M', 60000}, {'H', 3600000}};
    const uint64_t digits_max = 99999999;
    size_t u = 0;
    /* Round up to the unit, so the server never sees a shorter deadline than ours. */
    while (u + 1 < sizeof units / sizeof units[0] &&
           (timeout_ms + units[u].ms - 1) / units[u].ms > digits_max)
        u++;
    uint64_t count = (timeout_ms + units[u].ms - 1) / units[u].ms;
    if (count > digits_max)
        count = digits_max;
    int n = snprintf(out, out_bytes, "%llu%c", (unsigned long long)count, units[u].unit);
    ASSERT(n > 0 && (size_t)n < out_bytes);
    return (size_t)n;
}

size_t grpc_message_encode(char *out, size_t out_bytes, const char *message)
{
    ASSERT(out != NULL && out_bytes > 0 && message != NULL);
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)message; *p != '\0'; p++) {
        bool plain = *p >= ' ' && *p <= '~' && *p != '%';
        size_t need = plain ? 1 : 3;
        if (n + need >= out_bytes)
            break;
        if (plain) {
            out[n++] = (char)*p;
            continue;
        }
        out[n++] = '%';
        out[n++] = hex[*p >> 4];
        out[n++] = hex[*p & 0xf];
    }
    out[n] = '\0';
    return n;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t grpc_message_decode(char *out, size_t out_bytes, const char *in, size_t len)
{
    ASSERT(out != NULL && out_bytes > 0 && (in != NULL || len == 0));
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < out_bytes; i++) {
        int hi = in[i] == '%' && i + 2 < len ? hex_value(in[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(in[i + 2]) : -1;
        if (lo < 0) {
            out[n++] = in[i];
            continue;
        }
        out[n++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[n] = '\0';
    return n;
}

bool grpc_content_type_valid(const char *value, size_t len)
{
    static const char base[] = "application/grpc";
    const size_t base_len = sizeof base - 1;
    if (len < base_len || strncmp(value, base, base_len) != 0)
        return false;
    return len == base_len || value[base_len] == '+' || value[base_len] == ';';
}
