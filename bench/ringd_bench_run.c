/* The ringd-bench engine and one run (see ringd_bench_engine.h and ringd_bench_run.h):
 * connecting, finding the leader, the issue loop (closed or open), the progress bar, and the
 * result's totals. */
#include "ringd_bench_run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "ringd_assert.h"
#include "ringd_bench_engine.h"

#define NS_PER_MS          1000000ull
#define LOOP_WAIT_NS_MAX   (100 * NS_PER_MS) /* progress and end checks at least this often */
#define PROGRESS_PERIOD_NS (200 * NS_PER_MS)
#define PROGRESS_BAR_WIDTH 30
#define TEARDOWN_WAIT_MS   10000

uint64_t rbench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const struct rbench_workload_ops *workload_ops(enum rbench_workload w)
{
    static const struct rbench_workload_ops *const table[RBENCH_WL_COUNT] = {
        [RBENCH_WL_PUT] = &rbench_put_ops,
        [RBENCH_WL_RANGE] = &rbench_range_ops,
        [RBENCH_WL_TXN_PUT] = &rbench_txn_put_ops,
        [RBENCH_WL_TXN_MIXED] = &rbench_txn_mixed_ops,
        [RBENCH_WL_DELETE] = &rbench_delete_ops,
        [RBENCH_WL_WATCH] = &rbench_watch_ops,
        [RBENCH_WL_WATCH_GET] = &rbench_watch_get_ops,
        [RBENCH_WL_LEASE_KEEPALIVE] = &rbench_lease_keepalive_ops,
        [RBENCH_WL_FDATASYNC] = &rbench_fdatasync_ops,
    };
    ASSERT(w < RBENCH_WL_COUNT && table[w] != NULL);
    return table[w];
}

/* ---- What workloads call ------------------------------------------------------------------- */

void rbench_engine_record(struct rbench_engine *e, uint64_t latency_ns, uint64_t now_ns)
{
    rbench_hist_record(e->result->hist, latency_ns / 1000u);
    if (now_ns > e->last_end_ns)
        e->last_end_ns = now_ns;
}

void rbench_engine_error(struct rbench_engine *e, enum grpc_status status, const char *message)
{
    ASSERT(status != GRPC_STATUS_OK);
    struct rbench_result *r = e->result;
    r->errors++;
    r->errors_by_status[(unsigned)status < RBENCH_STATUS_COUNT ? status : GRPC_STATUS_UNKNOWN]++;
    if (r->first_error[0] == '\0')
        snprintf(r->first_error, sizeof(r->first_error), "%s: %s", rbench_status_name(status),
                 message);
    uint64_t now_ns = rbench_now_ns();
    if (now_ns > e->last_end_ns)
        e->last_end_ns = now_ns;
}

void rbench_engine_release(struct rbench_engine *e, struct rbench_slot *slot)
{
    ASSERT(slot->busy && e->in_flight > 0);
    slot->busy = false;
    e->in_flight--;
    if (!slot->dead) {
        ASSERT(e->free_count < e->slots_count);
        e->free_slots[e->free_count++] = slot->index;
    }
}

void rbench_engine_complete(struct rbench_engine *e, struct rbench_slot *slot,
                            enum grpc_status status, const char *message)
{
    if (status == GRPC_STATUS_OK) {
        uint64_t now_ns = rbench_now_ns();
        uint64_t latency_ns = now_ns > slot->intended_ns ? now_ns - slot->intended_ns : 0;
        rbench_engine_record(e, latency_ns, now_ns);
    } else {
        rbench_engine_error(e, status, message);
    }
    rbench_engine_release(e, slot);
}

int rbench_engine_fail(struct rbench_engine *e, enum grpc_status status, const char *fmt, ...)
{
    struct rbench_result *r = e->result;
    if (r->fatal == 0) {
        r->fatal = -EPROTO;
        r->setup_status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->setup_error, sizeof(r->setup_error), fmt, ap);
        va_end(ap);
    }
    e->stopping = true;
    return -EPROTO;
}

int rbench_engine_wait(struct rbench_engine *e, void *arg, bool (*until)(void *arg))
{
    uint64_t ms = e->config->dial_timeout_ns / NS_PER_MS;
    return grpc_client_run_until(e->client, (uint32_t)(ms > 0 ? ms : 1), arg, until);
}

uint32_t rbench_engine_timeout_ms(const struct rbench_engine *e)
{
    uint64_t ms = (e->config->timeout_ns + NS_PER_MS - 1) / NS_PER_MS;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* ---- Connecting ---------------------------------------------------------------------------- */

static bool conns_settled(void *arg)
{
    struct rbench_engine *e = arg;
    for (uint32_t i = 0; i < e->conns_count; i++) {
        struct grpc_client_conn_info info;
        grpc_client_conn_info(e->conns[i], &info);
        if (info.state == GRPC_CLIENT_CONN_CONNECTING)
            return false;
    }
    return true;
}

static int engine_connect(struct rbench_engine *e,
                          const char (*endpoints)[RBENCH_ENDPOINT_BYTES_MAX], uint32_t count)
{
    for (uint32_t i = 0; i < e->config->conns; i++) {
        const char *ep = endpoints[i % count];
        int rc = grpc_client_connect(e->client, ep, &e->conns[i]);
        if (rc < 0)
            return rbench_engine_fail(e, GRPC_STATUS_UNAVAILABLE, "cannot connect to %s: %s", ep,
                                      rc == -EINVAL ? "bad endpoint" : strerror(-rc));
        e->conns_count++;
    }
    if (rbench_engine_wait(e, e, conns_settled) < 0)
        return rbench_engine_fail(e, GRPC_STATUS_UNAVAILABLE, "connecting to %s timed out",
                                  endpoints[0]);
    for (uint32_t i = 0; i < e->conns_count; i++) {
        struct grpc_client_conn_info info;
        grpc_client_conn_info(e->conns[i], &info);
        if (info.state != GRPC_CLIENT_CONN_READY)
            return rbench_engine_fail(e, GRPC_STATUS_UNAVAILABLE, "cannot connect to %s: %s",
                                      endpoints[i % count], info.error);
    }
    return 0;
}

/* Whether endpoint's member is the leader, by Maintenance.Status. */
static bool endpoint_is_leader(struct rbench_engine *e, const char *endpoint)
{
    struct grpc_client_conn *conn = NULL;
    if (grpc_client_connect(e->client, endpoint, &conn) < 0)
        return false;
    Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;
    struct grpc_client_request r = {.path = "/etcdserverpb.Maintenance/Status",
                                    .message = &req.base,
                                    .response = &etcdserverpb__status_response__descriptor};
    struct grpc_client_reply reply = {0};
    uint32_t wait_ms = (uint32_t)(e->config->dial_timeout_ns / NS_PER_MS);
    bool leader = false;
    if (grpc_client_unary_sync(conn, &r, wait_ms, &reply) == 0 && reply.response != NULL) {
        const Etcdserverpb__StatusResponse *s = (const void *)reply.response;
        leader = s->header != NULL && s->leader != 0 && s->leader == s->header->member_id;
    }
    grpc_client_reply_free(&reply);
    grpc_client_conn_close(conn);
    return leader;
}

/* The index of the leader among endpoints, or a failure. */
static int engine_find_leader(struct rbench_engine *e,
                              const char (*endpoints)[RBENCH_ENDPOINT_BYTES_MAX], uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        if (endpoint_is_leader(e, endpoints[i]))
            return (int)i;
    return rbench_engine_fail(e, GRPC_STATUS_UNAVAILABLE,
                              "--target-leader: no endpoint answered Status as the leader");
}

/* ---- Progress bar -------------------------------------------------------------------------- */

static void progress_draw(struct rbench_engine *e, uint64_t now_ns, bool final)
{
    if (!e->progress)
        return;
    if (final) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        return;
    }
    if (now_ns < e->progress_next_ns)
        return;
    e->progress_next_ns = now_ns + PROGRESS_PERIOD_NS;
    double done = 0;
    if (e->limit != UINT64_MAX)
        done = (double)e->issued / (double)e->limit;
    if (e->config->duration_ns > 0 && now_ns > e->start_ns) {
        double t = (double)(now_ns - e->start_ns) / (double)e->config->duration_ns;
        done = t > done ? t : done;
    }
    done = done > 1 ? 1 : done;
    char bar[PROGRESS_BAR_WIDTH + 1];
    uint32_t filled = (uint32_t)(done * PROGRESS_BAR_WIDTH);
    for (uint32_t i = 0; i < PROGRESS_BAR_WIDTH; i++)
        bar[i] = i < filled ? '=' : ' ';
    bar[PROGRESS_BAR_WIDTH] = '\0';
    double secs = now_ns > e->start_ns ? (double)(now_ns - e->start_ns) / 1e9 : 0;
    uint64_t ops = e->result->hist->count;
    fprintf(stderr, "\r%-16s [%s] %3.0f%%  %llu ops  %.0f ops/s  %llu errors\033[K",
            e->result->label, bar, done * 100, (unsigned long long)ops,
            secs > 0 ? (double)ops / secs : 0.0, (unsigned long long)e->result->errors);
    fflush(stderr);
}

/* ---- The issue loop ------------------------------------------------------------------------ */

static bool engine_may_issue(struct rbench_engine *e, uint64_t now_ns)
{
    if (e->stopping || e->issued >= e->limit)
        return false;
    if (e->ops->stop != NULL && e->ops->stop(e)) {
        e->stopping = true;
        return false;
    }
    /* Nothing can ever start once every slot is dead. */
    if (e->free_count == 0 && e->in_flight == 0) {
        e->stopping = true;
        return false;
    }
    uint64_t next_ns = e->open_loop ? rbench_pacer_next_ns(&e->pacer) : now_ns;
    return next_ns < e->issue_end_ns;
}

static void engine_issue_one(struct rbench_engine *e, uint64_t intended_ns)
{
    ASSERT(e->free_count > 0);
    struct rbench_slot *slot = &e->slots[e->free_slots[--e->free_count]];
    ASSERT(!slot->busy && !slot->dead);
    slot->busy = true;
    slot->intended_ns = intended_ns;
    e->in_flight++;
    int rc = e->ops->issue(e, slot, e->issued++);
    if (rc < 0) {
        /* Slots never outnumber the client's calls, so this is a client limit or a bug in
         * the request: count it and stop rather than spin on it. */
        char why[128];
        snprintf(why, sizeof(why), "ringd-bench could not start a request: %s", strerror(-rc));
        rbench_engine_complete(e, slot, GRPC_STATUS_INTERNAL, why);
        e->stopping = true;
    }
}

/* Starts every operation that is due, one per free slot at most. */
static void engine_issue_due(struct rbench_engine *e)
{
    for (uint32_t budget = e->slots_count; budget > 0 && e->free_count > 0; budget--) {
        uint64_t now_ns = rbench_now_ns();
        if (!engine_may_issue(e, now_ns))
            return;
        if (!e->open_loop) {
            engine_issue_one(e, now_ns);
        } else if (rbench_pacer_next_ns(&e->pacer) <= now_ns) {
            engine_issue_one(e, rbench_pacer_take(&e->pacer));
        } else {
            return;
        }
    }
}

/* How long the next turn may sleep: until the next intended send, the end of --duration, or a
 * progress tick; completions wake it earlier. */
static uint64_t engine_wait_ns(struct rbench_engine *e, uint64_t now_ns)
{
    uint64_t wait_ns = LOOP_WAIT_NS_MAX;
    bool can_issue = e->free_count > 0 && engine_may_issue(e, now_ns);
    if (can_issue && e->open_loop) {
        uint64_t next_ns = rbench_pacer_next_ns(&e->pacer);
        wait_ns = next_ns > now_ns ? next_ns - now_ns : 0;
        wait_ns = wait_ns < LOOP_WAIT_NS_MAX ? wait_ns : LOOP_WAIT_NS_MAX;
    } else if (can_issue) {
        wait_ns = 0;
    }
    if (e->issue_end_ns > now_ns && e->issue_end_ns - now_ns < wait_ns)
        wait_ns = e->issue_end_ns - now_ns;
    return wait_ns;
}

/* Runs until the last operation has ended and the workload is drained. Bounded by --total or
 * --duration (and the request timeout for what is in flight then). */
static int engine_loop(struct rbench_engine *e)
{
    for (;;) {
        engine_issue_due(e);
        uint64_t now_ns = rbench_now_ns();
        if (e->in_flight == 0 && !engine_may_issue(e, now_ns) &&
            (e->ops->drained == NULL || e->ops->drained(e, now_ns)))
            return 0;
        progress_draw(e, now_ns, false);
        int rc = grpc_client_run_once_ns(e->client, engine_wait_ns(e, now_ns));
        if (rc < 0)
            return rbench_engine_fail(e, GRPC_STATUS_INTERNAL, "io_uring: %s", strerror(-rc));
    }
}

/* ---- A run --------------------------------------------------------------------------------- */

static int engine_init(struct rbench_engine *e, const struct rbench_config *c,
                       struct rbench_result *result)
{
    e->config = c;
    e->ops = workload_ops(c->workload);
    e->result = result;
    e->slots_count = c->clients;
    e->slots = calloc(c->clients, sizeof(*e->slots));
    e->free_slots = calloc(c->clients, sizeof(*e->free_slots));
    if (e->slots == NULL || e->free_slots == NULL)
        return -ENOMEM;
    uint64_t space = c->workload == RBENCH_WL_WATCH ? c->watched_key_total : c->key_space_size;
    int rc =
        rbench_keys_init(&e->keys, c->key_size, space, c->sequential_keys, c->seed, c->val_size);
    if (rc < 0)
        return rc;
    uint64_t calls = 2ull * c->clients + c->streams + 64u;
    struct grpc_client_config gc = {
        .calls_max = (uint32_t)(calls < GRPC_CLIENT_CALLS_MAX ? calls : GRPC_CLIENT_CALLS_MAX),
        .conns_max = c->conns + RBENCH_ENDPOINTS_MAX < GRPC_CLIENT_CONNS_MAX
                         ? c->conns + RBENCH_ENDPOINTS_MAX
                         : GRPC_CLIENT_CONNS_MAX,
    };
    rc = grpc_client_create(&gc, &e->client);
    if (rc < 0)
        return rc;
    e->progress = !c->no_progress && isatty(STDERR_FILENO);
    e->limit = c->total > 0 ? c->total : UINT64_MAX;
    return 0;
}

static void engine_slots_bind(struct rbench_engine *e)
{
    for (uint32_t i = 0; i < e->slots_count; i++) {
        struct grpc_client_conn *conn = e->conns_count > 0 ? e->conns[i % e->conns_count] : NULL;
        e->slots[i] = (struct rbench_slot){.engine = e, .conn = conn, .index = i};
        /* Reversed, so slot 0 goes first: slots share connections round-robin. */
        e->free_slots[i] = e->slots_count - 1u - i;
    }
    e->free_count = e->slots_count;
}

static bool calls_ended(void *arg)
{
    return grpc_client_calls_in_use(arg) == 0;
}

static void engine_finish(struct rbench_engine *e)
{
    if (e->client != NULL && e->ops->teardown != NULL)
        e->ops->teardown(e);
    if (e->client != NULL)
        (void)grpc_client_run_until(e->client, TEARDOWN_WAIT_MS, e->client, calls_ended);
    /* Destroy ends what is left, whose callbacks still reach the engine: before freeing it. */
    if (e->client != NULL)
        grpc_client_destroy(e->client);
    if (e->ops != NULL && e->ops->destroy != NULL)
        e->ops->destroy(e);
    rbench_keys_free(&e->keys);
    free(e->slots);
    free(e->free_slots);
}

static void result_start(struct rbench_result *r, const struct rbench_config *c, const char *label,
                         const char *endpoint)
{
    struct rbench_hist *hist = r->hist;
    memset(r, 0, sizeof(*r));
    r->hist = hist;
    rbench_hist_reset(hist);
    r->workload = c->workload;
    snprintf(r->label, sizeof(r->label), "%s", label);
    snprintf(r->endpoint, sizeof(r->endpoint), "%s", endpoint);
}

static void engine_start_clock(struct rbench_engine *e)
{
    const struct rbench_config *c = e->config;
    uint64_t rate = c->workload == RBENCH_WL_WATCH ? c->put_rate : c->rate;
    e->start_ns = rbench_now_ns();
    e->last_end_ns = e->start_ns;
    e->open_loop = rate > 0;
    if (e->open_loop)
        rbench_pacer_init(&e->pacer, rate, e->start_ns);
    e->issue_end_ns = c->duration_ns > 0 ? e->start_ns + c->duration_ns : UINT64_MAX;
}

/* Connects to endpoints[0..count), or to the leader among them. */
static int engine_reach(struct rbench_engine *e, const char (*endpoints)[RBENCH_ENDPOINT_BYTES_MAX],
                        uint32_t count)
{
    if (e->config->target_leader) {
        int leader = engine_find_leader(e, endpoints, count);
        if (leader < 0)
            return leader;
        endpoints += leader;
        count = 1;
        snprintf(e->result->endpoint, sizeof(e->result->endpoint), "%s", endpoints[0]);
    }
    return engine_connect(e, endpoints, count);
}

static int engine_run(struct rbench_engine *e, const char (*endpoints)[RBENCH_ENDPOINT_BYTES_MAX],
                      uint32_t count)
{
    int rc = e->ops->local ? 0 : engine_reach(e, endpoints, count);
    if (rc < 0)
        return rc;
    ASSERT(e->ops->local == (e->conns_count == 0));
    engine_slots_bind(e);
    if (e->ops->setup != NULL && (rc = e->ops->setup(e)) < 0)
        return rc;
    engine_start_clock(e);
    rc = engine_loop(e);
    progress_draw(e, rbench_now_ns(), true);
    return rc;
}

int rbench_run(const struct rbench_config *config,
               const char (*endpoints)[RBENCH_ENDPOINT_BYTES_MAX], uint32_t count,
               const char *label, struct rbench_result *result)
{
    ASSERT(count > 0 && result->hist != NULL);
    /* A local workload's "endpoint" in the reports is the directory it measures. */
    result_start(result, config, label,
                 workload_ops(config->workload)->local ? config->dir : endpoints[0]);
    struct rbench_engine *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return -ENOMEM;
    int rc = engine_init(e, config, result);
    if (rc < 0) {
        snprintf(result->setup_error, sizeof(result->setup_error), "ringd-bench: %s",
                 strerror(-rc));
        result->fatal = rc;
    } else {
        rc = engine_run(e, endpoints, count);
    }
    engine_finish(e);
    result->ops = result->hist->count;
    result->elapsed_ns = e->last_end_ns > e->start_ns ? e->last_end_ns - e->start_ns : 0;
    result->ops_per_s =
        result->elapsed_ns > 0 ? (double)result->ops * 1e9 / (double)result->elapsed_ns : 0;
    free(e);
    return result->fatal != 0 ? result->fatal : (rc < 0 ? rc : 0);
}
