/* Joining a running cluster; see cluster_join.h. */
#include "cluster_join.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ringd_assert.h"
#include "ringd_error.h"

/* Appends to why at *used, keeping it NUL-terminated and cut to why_bytes. */
__attribute__((format(printf, 4, 5))) static void
cluster_join_add(char *why, size_t why_bytes, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= why_bytes)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why + *used, why_bytes - *used, fmt, ap);
    va_end(ap);
    if (n > 0)
        *used += (size_t)n < why_bytes - *used ? (size_t)n : why_bytes - *used - 1;
}

static void cluster_join_add_urls(char *why, size_t why_bytes, size_t *used,
                                  const char (*urls)[CONFIG_URL_BYTES_MAX], uint32_t n)
{
    for (uint32_t u = 0; u < n; u++)
        cluster_join_add(why, why_bytes, used, "%s%s", u > 0 ? " " : "", urls[u]);
}

/* etcd's RaftCluster.String(): "{ClusterID:<id> Members:[&{...} ...] RemovedMemberIDs:[]}: " */
static size_t cluster_join_describe(uint64_t cluster_id, const struct members *m, char *why,
                                    size_t why_bytes)
{
    size_t used = 0;
    char hex[17];
    cluster_id_format(hex, sizeof hex, cluster_id);
    cluster_join_add(why, why_bytes, &used, "error validating peerURLs {ClusterID:%s Members:[",
                     hex);
    for (uint32_t i = 0; i < m->count; i++) {
        const struct member_info *mi = &m->items[i];
        cluster_id_format(hex, sizeof hex, mi->id);
        cluster_join_add(why, why_bytes, &used, "%s&{ID:%s RaftAttributes:{PeerURLs:[",
                         i > 0 ? " " : "", hex);
        cluster_join_add_urls(why, why_bytes, &used, mi->peer_urls, mi->n_peer_urls);
        cluster_join_add(why, why_bytes, &used, "] IsLearner:%s} Attributes:{Name:%s ClientURLs:[",
                         mi->is_learner ? "true" : "false", mi->name);
        cluster_join_add_urls(why, why_bytes, &used, mi->client_urls, mi->n_client_urls);
        cluster_join_add(why, why_bytes, &used, "]}}");
    }
    cluster_join_add(why, why_bytes, &used, "] RemovedMemberIDs:[]}: ");
    return used;
}

/* Sorted pointers to n URLs, as the comparison wants them. */
static void cluster_join_sorted(const char (*urls)[CONFIG_URL_BYTES_MAX], uint32_t n,
                                const char **out)
{
    for (uint32_t i = 0; i < n; i++) {
        const char *u = urls[i];
        uint32_t j = i;
        for (; j > 0 && strcmp(out[j - 1], u) > 0; j--)
            out[j] = out[j - 1];
        out[j] = u;
    }
}

/* The local member whose peer URLs equal em's, or -1 with the last comparison's reason. */
static int cluster_join_match(const struct cluster_ids *local, const struct member_info *em,
                              char *reason, size_t reason_bytes)
{
    const char *a[CLUSTER_PEER_URLS_MAX], *b[CLUSTER_PEER_URLS_MAX];
    cluster_join_sorted(em->peer_urls, em->n_peer_urls, a);
    snprintf(reason, reason_bytes, "<nil>");
    for (uint32_t j = 0; j < local->members_count; j++) {
        const struct cluster_member *lm = &local->members[j];
        for (uint32_t u = 0; u < lm->peer_urls_count; u++)
            b[u] = lm->peer_urls[u]; /* kept sorted by cluster_ids_compute */
        if (cluster_urls_equal(a, b, em->n_peer_urls, lm->peer_urls_count, reason, reason_bytes))
            return (int)j;
    }
    return -1;
}

static void cluster_join_sort(struct cluster_ids *ids)
{
    static struct cluster_member tmp; /* large; start-up only, one thread */
    for (uint32_t i = 1; i < ids->members_count; i++) {
        uint32_t j = i;
        tmp = ids->members[i];
        for (; j > 0 && ids->members[j - 1].id > tmp.id; j--)
            ids->members[j] = ids->members[j - 1];
        ids->members[j] = tmp;
    }
}

int cluster_join_assign(struct cluster_ids *local, uint64_t cluster_id,
                        const struct members *existing, char *why, size_t why_bytes)
{
    ASSERT(local->join && local->local < local->members_count);
    char name[CONFIG_NAME_BYTES_MAX];
    snprintf(name, sizeof name, "%s", local->members[local->local].name);
    size_t used = 0;
    if (existing->count != local->members_count) {
        used = cluster_join_describe(cluster_id, existing, why, why_bytes);
        cluster_join_add(why, why_bytes, &used, "member count is unequal");
        return -RINGD_EINVAL_CONFIG;
    }
    for (uint32_t i = 0; i < existing->count; i++) {
        const struct member_info *em = &existing->items[i];
        char reason[CONFIG_ERROR_BYTES_MAX];
        int j = cluster_join_match(local, em, reason, sizeof reason);
        if (j < 0) {
            char hex[17];
            cluster_id_format(hex, sizeof hex, em->id);
            used = cluster_join_describe(cluster_id, existing, why, why_bytes);
            cluster_join_add(why, why_bytes, &used,
                             "PeerURLs: no match found for existing member (%s, [", hex);
            cluster_join_add_urls(why, why_bytes, &used, em->peer_urls, em->n_peer_urls);
            cluster_join_add(why, why_bytes, &used, "]), last resolver error (%s)", reason);
            return -RINGD_EINVAL_CONFIG;
        }
        local->members[j].id = em->id;
        local->members[j].is_learner = em->is_learner;
    }
    cluster_join_sort(local);
    const struct cluster_member *me = cluster_ids_find_name(local, name);
    ASSERT(me != NULL); /* cluster_ids_compute found it; only ids changed */
    local->local = (uint32_t)(me - local->members);
    local->member_id = me->id;
    local->cluster_id = cluster_id;
    return 0;
}
