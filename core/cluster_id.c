/* Member and cluster ids as etcd derives them; see cluster_id.h. The checks follow etcd 3.4's
 * types.NewURLsMap, etcdserver/config.go (VerifyBootstrap, VerifyJoinExisting,
 * advertiseMatchesCluster, checkDuplicateURL) and membership.NewClusterFromURLsMap. Where etcd
 * walks a Go map (random order), ringd walks in a fixed order: input order for names, sorted
 * order for URLs. */
#include "cluster_id.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "go_quote.h"
#include "ringd_assert.h"
#include "ringd_error.h"

/* A bounded text being appended to; the end is cut, never overrun, and always NUL-terminated. */
struct text {
    char *p;
    size_t cap; /* >= 1 */
    size_t len;
};

static struct text text_at(char *p, size_t cap)
{
    ASSERT(p != NULL && cap >= 1);
    p[0] = '\0';
    return (struct text){.p = p, .cap = cap, .len = 0};
}

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->len + 1 >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

static void text_add_bytes(struct text *t, const char *s, size_t len)
{
    text_add(t, "%.*s", (int)len, s);
}

/* Appends s as Go's %q writes it; a text too long for the room left is cut (go_quote.h). */
static void text_add_quoted_str(struct text *t, const char *s)
{
    if (t->cap - t->len >= 3)
        t->len += go_quote(t->p + t->len, t->cap - t->len, s, strlen(s));
}

/* Go's %q of a []string: ["a" "b"]. */
static void text_add_quoted_list(struct text *t, const char *const *items, size_t count)
{
    text_add(t, "[");
    for (size_t i = 0; i < count; i++) {
        text_add(t, "%s", i > 0 ? " " : "");
        text_add_quoted_str(t, items[i]);
    }
    text_add(t, "]");
}

static void sort_strings(const char **items, size_t count)
{
    for (size_t i = 1; i < count; i++) {
        for (size_t j = i; j > 0 && strcmp(items[j - 1], items[j]) > 0; j--) {
            const char *tmp = items[j];
            items[j] = items[j - 1];
            items[j - 1] = tmp;
        }
    }
}

static uint64_t load_be64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void store_be64(unsigned char *b, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* SHA-1 of the concatenated pieces, first 8 bytes big-endian. A failing digest is an OpenSSL
 * that cannot hash SHA-1 at all: a broken installation, not bad input. */
static uint64_t sha1_first8(const void *const *pieces, const size_t *lens, size_t count)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ASSERT(ctx != NULL);
    int rc = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    ASSERT(rc == 1);
    for (size_t i = 0; i < count; i++) {
        rc = EVP_DigestUpdate(ctx, pieces[i], lens[i]);
        ASSERT(rc == 1);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    rc = EVP_DigestFinal_ex(ctx, md, &md_len);
    ASSERT(rc == 1 && md_len == 20);
    EVP_MD_CTX_free(ctx);
    return load_be64(md);
}

uint64_t cluster_member_id(const char *const *peer_urls, size_t count, const char *token,
                           const int64_t *unix_time_s)
{
    ASSERT(peer_urls != NULL && token != NULL);
    ASSERT(count <= CLUSTER_PEER_URLS_MAX);
    const void *pieces[CLUSTER_PEER_URLS_MAX + 2];
    size_t lens[CLUSTER_PEER_URLS_MAX + 2];
    const char *sorted[CLUSTER_PEER_URLS_MAX];
    memcpy(sorted, peer_urls, count * sizeof sorted[0]);
    sort_strings(sorted, count);
    size_t n = 0;
    for (size_t i = 0; i < count; i++, n++) {
        pieces[n] = sorted[i];
        lens[n] = strlen(sorted[i]);
    }
    pieces[n] = token;
    lens[n++] = strlen(token);
    char time_text[24];
    if (unix_time_s != NULL) {
        int len = snprintf(time_text, sizeof time_text, "%" PRId64, *unix_time_s);
        ASSERT(len > 0 && (size_t)len < sizeof time_text);
        pieces[n] = time_text;
        lens[n++] = (size_t)len;
    }
    return sha1_first8(pieces, lens, n);
}

uint64_t cluster_id_from_members(const uint64_t *member_ids, size_t count)
{
    ASSERT(member_ids != NULL || count == 0);
    ASSERT(count <= CONFIG_CLUSTER_MEMBERS_MAX);
    uint64_t ids[CONFIG_CLUSTER_MEMBERS_MAX];
    memcpy(ids, member_ids, count * sizeof ids[0]);
    for (size_t i = 1; i < count; i++) {
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint64_t tmp = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = tmp;
        }
    }
    unsigned char bytes[CONFIG_CLUSTER_MEMBERS_MAX * 8];
    for (size_t i = 0; i < count; i++)
        store_be64(bytes + 8 * i, ids[i]);
    const void *piece = bytes;
    size_t len = 8 * count;
    return sha1_first8(&piece, &len, 1);
}

size_t cluster_id_format(char *out, size_t out_bytes, uint64_t id)
{
    ASSERT(out != NULL && out_bytes > 0);
    int n = snprintf(out, out_bytes, "%" PRIx64, id);
    ASSERT(n > 0);
    return (size_t)n < out_bytes ? (size_t)n : out_bytes - 1;
}

const struct cluster_member *cluster_ids_find_name(const struct cluster_ids *ids, const char *name)
{
    ASSERT(ids != NULL && name != NULL);
    for (uint32_t i = 0; i < ids->members_count; i++) {
        if (strcmp(ids->members[i].name, name) == 0)
            return &ids->members[i];
    }
    return NULL;
}

/* Parsing --initial-cluster as types.NewURLsMap does. */

/* One "key=value" entry of the text; value is empty when the entry has no '='. */
struct entry {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
};

/* The next non-empty comma-separated entry at or after *p, advancing *p past it; false at the
 * end. Go's parse skips an empty entry before looking for '='. */
static bool entry_next(const char **p, struct entry *e)
{
    while (**p != '\0') {
        const char *s = *p;
        size_t len = strcspn(s, ",");
        *p = s[len] == ',' ? s + len + 1 : s + len;
        if (len == 0)
            continue;
        const char *eq = memchr(s, '=', len);
        e->key = s;
        e->key_len = eq != NULL ? (size_t)(eq - s) : len;
        e->value = eq != NULL ? eq + 1 : s + len;
        e->value_len = eq != NULL ? len - e->key_len - 1 : 0;
        return true;
    }
    return false;
}

static bool key_is(const struct entry *e, const char *name)
{
    return strlen(name) == e->key_len && memcmp(name, e->key, e->key_len) == 0;
}

static int init_error(char *why, size_t why_bytes, const char *reason)
{
    snprintf(why, why_bytes, "error setting up initial cluster: %s", reason);
    return -RINGD_EINVAL_CONFIG;
}

/* Lists each distinct name once, in the order of first appearance. */
static int members_name(const char *cluster, struct cluster_ids *out, char *why, size_t why_bytes)
{
    char reason[CONFIG_ERROR_BYTES_MAX];
    struct entry e;
    out->members_count = 0;
    for (const char *p = cluster; entry_next(&p, &e);) {
        bool known = false;
        for (uint32_t i = 0; i < out->members_count && !known; i++)
            known = key_is(&e, out->members[i].name);
        if (known)
            continue;
        if (e.key_len >= CONFIG_NAME_BYTES_MAX) {
            snprintf(reason, sizeof reason, "member name longer than %d bytes: %.*s...",
                     CONFIG_NAME_BYTES_MAX - 1, 64, e.key);
            return init_error(why, why_bytes, reason);
        }
        if (out->members_count == CONFIG_CLUSTER_MEMBERS_MAX) {
            snprintf(reason, sizeof reason, "more than %d members", CONFIG_CLUSTER_MEMBERS_MAX);
            return init_error(why, why_bytes, reason);
        }
        struct cluster_member *m = &out->members[out->members_count++];
        memset(m, 0, sizeof *m);
        memcpy(m->name, e.key, e.key_len);
    }
    return 0;
}

/* Parses every URL given for m's name with types.NewURLs's rules (config_urls_parse). */
static int member_urls(const char *cluster, struct cluster_member *m, char *why, size_t why_bytes)
{
    char joined[CONFIG_STRING_BYTES_MAX], reason[CONFIG_ERROR_BYTES_MAX];
    struct text t = text_at(joined, sizeof joined);
    struct entry e;
    bool first = true;
    for (const char *p = cluster; entry_next(&p, &e);) {
        if (!key_is(&e, m->name))
            continue;
        text_add(&t, "%s", first ? "" : ",");
        text_add_bytes(&t, e.value, e.value_len);
        first = false;
    }
    ASSERT(!first);
    struct config_urls urls;
    if (config_urls_parse(&urls, joined, reason, sizeof reason) != 0)
        return init_error(why, why_bytes, reason);
    ASSERT(urls.count >= 1 && urls.count <= CLUSTER_PEER_URLS_MAX);
    m->peer_urls_count = urls.count;
    for (uint32_t i = 0; i < urls.count; i++)
        snprintf(m->peer_urls[i], sizeof m->peer_urls[i], "%s", urls.items[i].text);
    return 0;
}

static int members_parse(const char *cluster, struct cluster_ids *out, char *why, size_t why_bytes)
{
    int rc = members_name(cluster, out, why, why_bytes);
    for (uint32_t i = 0; rc == 0 && i < out->members_count; i++)
        rc = member_urls(cluster, &out->members[i], why, why_bytes);
    return rc;
}

/* Comparing URL lists as netutil.URLStringsEqual does. */

/* The parts of a URL text already validated by config_urls_parse. */
struct url_parts {
    size_t host_start, host_end; /* of "host:port" in the text */
    char host[CONFIG_URL_BYTES_MAX];
    char port[CONFIG_URL_BYTES_MAX];
    bool is_unix;
};

static void url_split_parts(const char *url, struct url_parts *u)
{
    const char *sep = strstr(url, "://");
    ASSERT(sep != NULL);
    const char *auth = sep + 3, *auth_end = auth + strcspn(auth, "/?#");
    const char *hp = auth;
    for (const char *c = auth; c < auth_end; c++)
        hp = *c == '@' ? c + 1 : hp;
    u->is_unix = strncmp(url, "unix", 4) == 0;
    u->host_start = (size_t)(hp - url);
    u->host_end = (size_t)(auth_end - url);
    const char *colon = hp;
    for (const char *c = hp; c < auth_end; c++)
        colon = *c == ':' ? c : colon;
    const char *h = hp, *h_end = colon;
    if (*h == '[' && h_end > h && h_end[-1] == ']') {
        h++;
        h_end--;
    }
    snprintf(u->host, sizeof u->host, "%.*s", (int)(h_end - h), h);
    snprintf(u->port, sizeof u->port, "%.*s", (int)(auth_end - colon - 1), colon + 1);
}

static bool is_ip_literal(const char *host)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* The URL with a DNS host name replaced by "address:port" as netutil.resolveURL does: the first
 * address the resolver gives (etcd takes ips[0], whatever its family) and the port as a number
 * (an empty port is 0). Unix URLs, "localhost" and IP literals stay as they are. */
static int url_resolve(const char *url, char *out, size_t out_bytes, char *err, size_t err_bytes)
{
    struct url_parts u;
    url_split_parts(url, &u);
    snprintf(out, out_bytes, "%s", url);
    if (u.is_unix || strcmp(u.host, "localhost") == 0 || is_ip_literal(u.host))
        return 0;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(u.host, NULL, &hints, &res);
    if (rc != 0 || res == NULL) {
        struct text t = text_at(err, err_bytes);
        text_add(&t, "failed to resolve ");
        text_add_quoted_str(&t, url);
        text_add(&t, " (%s)", rc != 0 ? gai_strerror(rc) : "no address");
        if (res != NULL)
            freeaddrinfo(res);
        return -RINGD_EINVAL_CONFIG;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    bool v6 = res->ai_family == AF_INET6;
    const void *addr = v6 ? (const void *)&((const struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)res->ai_addr)->sin_addr;
    const char *ok = inet_ntop(res->ai_family, addr, ip, sizeof ip);
    ASSERT(ok != NULL);
    freeaddrinfo(res);
    /* config_urls_parse let only digits through, at most 65535. */
    unsigned long port = strtoul(u.port, NULL, 10);
    ASSERT(port <= UINT16_MAX);
    snprintf(out, out_bytes, "%.*s%s%s%s:%lu%s", (int)u.host_start, url, v6 ? "[" : "", ip,
             v6 ? "]" : "", port, url + u.host_end);
    return 0;
}

/* A URL whose host was replaced by an address. */
#define RESOLVED_URL_BYTES_MAX (CONFIG_URL_BYTES_MAX + INET6_ADDRSTRLEN + 8)

/* True if both sorted lists are equal, after resolving DNS names if they differ as text; else
 * false with etcd's reason in err. */
bool cluster_urls_equal(const char *const *a, const char *const *b, size_t count_a, size_t count_b,
                        char *err, size_t err_bytes)
{
    struct text t = text_at(err, err_bytes);
    if (count_a != count_b) {
        text_add(&t, "len(");
        text_add_quoted_list(&t, a, count_a);
        text_add(&t, ") != len(");
        text_add_quoted_list(&t, b, count_b);
        text_add(&t, ")");
        return false;
    }
    size_t i = 0;
    while (i < count_a && strcmp(a[i], b[i]) == 0)
        i++;
    if (i == count_a)
        return true;
    char resolved[2][CLUSTER_PEER_URLS_MAX][RESOLVED_URL_BYTES_MAX];
    const char *ra[CLUSTER_PEER_URLS_MAX], *rb[CLUSTER_PEER_URLS_MAX];
    /* All of a, then all of b, as netutil.resolveTCPAddrs: the first failure is the one named. */
    ASSERT(count_a > 0);
    for (i = 0; i < 2 * count_a; i++) {
        size_t side = i / count_a, k = i % count_a;
        const char *url = side == 0 ? a[k] : b[k];
        if (url_resolve(url, resolved[side][k], sizeof resolved[side][k], err, err_bytes) != 0)
            return false;
        (side == 0 ? ra : rb)[k] = resolved[side][k];
    }
    sort_strings(ra, count_a);
    sort_strings(rb, count_a);
    for (i = 0; i < count_a; i++) {
        if (strcmp(ra[i], rb[i]) != 0) {
            text_add(&t, "resolved urls: ");
            text_add_quoted_str(&t, ra[i]);
            text_add(&t, " != ");
            text_add_quoted_str(&t, rb[i]);
            return false;
        }
    }
    return true;
}

static bool list_has(const char *const *items, size_t count, const char *s)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(items[i], s) == 0)
            return true;
    }
    return false;
}

/* Appends the items of sorted list `from` missing from `in`, once each, comma-separated, each
 * after prefix (for "name=url"). Returns how many. */
static size_t add_missing(struct text *t, const char *const *from, size_t count_from,
                          const char *const *in, size_t count_in, const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < count_from; i++) {
        if ((i > 0 && strcmp(from[i - 1], from[i]) == 0) || list_has(in, count_in, from[i]))
            continue;
        text_add(t, "%s%s%s", n > 0 ? "," : "", prefix, from[i]);
        n++;
    }
    return n;
}

static void add_joined(struct text *t, const char *const *items, size_t count, const char *prefix)
{
    for (size_t i = 0; i < count; i++)
        text_add(t, "%s%s%s", i > 0 ? "," : "", prefix, items[i]);
}

/* advertiseMatchesCluster: --initial-advertise-peer-urls against our URLs in the cluster. */
static int advertise_check(const struct config *cfg, const struct cluster_member *m, char *why,
                           size_t why_bytes)
{
    const struct config_urls *ap = &cfg->initial_advertise_peer_urls;
    const char *apurls[CONFIG_URLS_MAX], *urls[CLUSTER_PEER_URLS_MAX];
    /* Both lists come sorted from config_urls_parse, as etcd sorts them here. */
    for (uint32_t i = 0; i < ap->count; i++) {
        apurls[i] = ap->items[i].text;
        ASSERT(i == 0 || strcmp(apurls[i - 1], apurls[i]) <= 0);
    }
    for (uint32_t i = 0; i < m->peer_urls_count; i++) {
        urls[i] = m->peer_urls[i];
        ASSERT(i == 0 || strcmp(urls[i - 1], urls[i]) <= 0);
    }
    char eq_err[CONFIG_ERROR_BYTES_MAX];
    if (cluster_urls_equal(apurls, urls, ap->count, m->peer_urls_count, eq_err, sizeof eq_err))
        return 0;
    char prefix[CONFIG_NAME_BYTES_MAX + 1];
    snprintf(prefix, sizeof prefix, "%s=", m->name);
    struct text t = text_at(why, why_bytes);
    text_add(&t, "--initial-cluster has ");
    if (add_missing(&t, urls, m->peer_urls_count, apurls, ap->count, prefix) > 0) {
        text_add(&t, " but missing from --initial-advertise-peer-urls=");
        add_joined(&t, apurls, ap->count, "");
        text_add(&t, " (%s)", eq_err);
        return -RINGD_EINVAL_CONFIG;
    }
    t = text_at(why, why_bytes);
    text_add(&t, "--initial-advertise-peer-urls has ");
    if (add_missing(&t, apurls, ap->count, urls, m->peer_urls_count, "") > 0) {
        text_add(&t, " but missing from --initial-cluster=");
        add_joined(&t, apurls, ap->count, prefix);
        return -RINGD_EINVAL_CONFIG;
    }
    t = text_at(why, why_bytes);
    text_add(&t, "failed to resolve ");
    add_joined(&t, apurls, ap->count, "");
    text_add(&t, " to match --initial-cluster=");
    add_joined(&t, apurls, ap->count, prefix);
    text_add(&t, " (%s)", eq_err);
    return -RINGD_EINVAL_CONFIG;
}

/* checkDuplicateURL, with the whole cluster in the message as URLsMap.String() writes it. */

struct url_ref {
    uint8_t member;
    uint8_t url;
};
_Static_assert(CONFIG_CLUSTER_MEMBERS_MAX <= 256 && CLUSTER_PEER_URLS_MAX <= 256,
               "a url_ref indexes members and URLs with one byte each");

static const char *ref_url(const struct cluster_ids *ids, struct url_ref r)
{
    return ids->members[r.member].peer_urls[r.url];
}

/* Compares "name=url" of a and b without building the strings. */
static int ref_pair_cmp(const struct cluster_ids *ids, struct url_ref a, struct url_ref b)
{
    const char *pa[3] = {ids->members[a.member].name, "=", ref_url(ids, a)};
    const char *pb[3] = {ids->members[b.member].name, "=", ref_url(ids, b)};
    size_t ia = 0, ib = 0;
    const char *ca = pa[0], *cb = pb[0];
    for (;;) {
        while (*ca == '\0' && ia < 2)
            ca = pa[++ia];
        while (*cb == '\0' && ib < 2)
            cb = pb[++ib];
        if (*ca != *cb || *ca == '\0')
            return (int)(unsigned char)*ca - (int)(unsigned char)*cb;
        ca++;
        cb++;
    }
}

static void refs_sort(const struct cluster_ids *ids, struct url_ref *refs, size_t count,
                      bool by_pair)
{
    for (size_t i = 1; i < count; i++) {
        for (size_t j = i; j > 0; j--) {
            int c = by_pair ? ref_pair_cmp(ids, refs[j - 1], refs[j])
                            : strcmp(ref_url(ids, refs[j - 1]), ref_url(ids, refs[j]));
            if (c <= 0)
                break;
            struct url_ref tmp = refs[j];
            refs[j] = refs[j - 1];
            refs[j - 1] = tmp;
        }
    }
}

static int duplicate_check(const struct cluster_ids *ids, char *why, size_t why_bytes)
{
    struct url_ref refs[CONFIG_CLUSTER_MEMBERS_MAX * CLUSTER_PEER_URLS_MAX];
    size_t count = 0;
    for (uint32_t m = 0; m < ids->members_count; m++) {
        for (uint32_t u = 0; u < ids->members[m].peer_urls_count; u++)
            refs[count++] = (struct url_ref){.member = (uint8_t)m, .url = (uint8_t)u};
    }
    refs_sort(ids, refs, count, false);
    bool dup = false;
    for (size_t i = 1; i < count && !dup; i++)
        dup = strcmp(ref_url(ids, refs[i - 1]), ref_url(ids, refs[i])) == 0;
    if (!dup)
        return 0;
    refs_sort(ids, refs, count, true);
    struct text t = text_at(why, why_bytes);
    text_add(&t, "initial cluster ");
    for (size_t i = 0; i < count; i++)
        text_add(&t, "%s%s=%s", i > 0 ? "," : "", ids->members[refs[i].member].name,
                 ref_url(ids, refs[i]));
    text_add(&t, " has duplicate url");
    return -RINGD_EINVAL_CONFIG;
}

/* Ids as membership.NewClusterFromURLsMap assigns them, members sorted by id. */
static int ids_assign(struct cluster_ids *ids, const char *token, char *why, size_t why_bytes)
{
    uint64_t member_ids[CONFIG_CLUSTER_MEMBERS_MAX];
    for (uint32_t i = 0; i < ids->members_count; i++) {
        struct cluster_member *m = &ids->members[i];
        const char *urls[CLUSTER_PEER_URLS_MAX];
        for (uint32_t u = 0; u < m->peer_urls_count; u++)
            urls[u] = m->peer_urls[u];
        m->id = cluster_member_id(urls, m->peer_urls_count, token, NULL);
        member_ids[i] = m->id;
        if (m->id == 0) {
            snprintf(why, why_bytes, "cannot use 0 as member id");
            return -RINGD_EINVAL_CONFIG;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (ids->members[j].id != m->id)
                continue;
            char hex[17];
            cluster_id_format(hex, sizeof hex, m->id);
            struct text t = text_at(why, why_bytes);
            text_add(&t, "member exists with identical ID &{ID:%s RaftAttributes:{PeerURLs:[", hex);
            for (uint32_t u = 0; u < m->peer_urls_count; u++)
                text_add(&t, "%s%s", u > 0 ? " " : "", m->peer_urls[u]);
            text_add(&t, "] IsLearner:false} Attributes:{Name:%s ClientURLs:[]}}", m->name);
            return -RINGD_EINVAL_CONFIG;
        }
    }
    ids->cluster_id = cluster_id_from_members(member_ids, ids->members_count);
    return 0;
}

/* Selection sort by id: at most one swap of a (large) member per position. */
static void members_sort(struct cluster_ids *ids)
{
    for (uint32_t i = 0; i + 1 < ids->members_count; i++) {
        uint32_t min = i;
        for (uint32_t j = i + 1; j < ids->members_count; j++)
            min = ids->members[j].id < ids->members[min].id ? j : min;
        if (min == i)
            continue;
        struct cluster_member tmp = ids->members[i];
        ids->members[i] = ids->members[min];
        ids->members[min] = tmp;
    }
}

int cluster_ids_compute(const struct config *cfg, struct cluster_ids *out, char *why,
                        size_t why_bytes)
{
    ASSERT(cfg != NULL && out != NULL && why != NULL && why_bytes > 0);
    why[0] = '\0';
    int rc = members_parse(cfg->initial_cluster, out, why, why_bytes);
    if (rc != 0)
        return rc;
    const struct cluster_member *local = cluster_ids_find_name(out, cfg->name);
    if (local == NULL) {
        struct text t = text_at(why, why_bytes);
        text_add(&t, "couldn't find local name ");
        text_add_quoted_str(&t, cfg->name);
        text_add(&t, " in the initial cluster configuration");
        return -RINGD_EINVAL_CONFIG;
    }
    bool is_new = cfg->initial_cluster_state == CONFIG_CLUSTER_STATE_NEW;
    rc = is_new ? advertise_check(cfg, local, why, why_bytes) : 0;
    rc = rc != 0 ? rc : duplicate_check(out, why, why_bytes);
    if (rc != 0)
        return rc;
    out->join = !is_new;
    rc = ids_assign(out, cfg->initial_cluster_token, why, why_bytes);
    if (rc != 0)
        return rc;
    members_sort(out);
    local = cluster_ids_find_name(out, cfg->name);
    ASSERT(local != NULL);
    out->local = (uint32_t)(local - out->members);
    out->member_id = local->id;
    return 0;
}
