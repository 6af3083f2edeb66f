/* ringd-bench's watch workloads.
 *
 * watch: --watchers watchers spread over --streams Watch streams; watcher i watches
 * --watch-range-keys consecutive keys of the --watched-key-total written keys. Once every watcher
 * is created, a writer puts those keys at --put-rate (open loop) with --clients slots; each
 * value carries the put's intended send time, so the latency recorded per delivered event is
 * put-to-event, queueing included. Expected events are the watchers covering each acknowledged
 * put's key; the run waits up to --drain after the last put for the rest.
 *
 * watch-get (etcd's benchmark of the same name): --events puts to one key, then --watchers
 * watchers on --streams streams watch it from the first of those revisions (unsynced watchers
 * catching up), while --clients clients time serializable ranges; it ends when every watcher
 * has had every event. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "ringd_assert.h"
#include "ringd_bench_engine.h"
#include "ringd_error.h"

#define WATCH_GET_KEY "ringd-bench/watch-get"

struct watch_state;

struct watch_stream {
    struct watch_state *ws;
    struct grpc_client_call *call;
    uint32_t index;
    uint32_t watchers; /* watchers this stream carries */
    uint32_t sent;     /* their create requests queued so far */
    bool ended;
};

struct watch_state {
    struct rbench_engine *e;
    struct watch_stream *streams;
    uint32_t streams_count;
    uint32_t *per_key; /* watch: watchers covering each key number */
    uint64_t created;
    uint64_t created_wanted;
    bool measure_events; /* watch: events carry their put's intended send time */
    bool tearing_down;
    int64_t start_revision; /* watch-get: where the watchers start */
    uint64_t writes_end_ns; /* watch: when the last put ended */
    enum grpc_status ended_status;
    char ended_message[RBENCH_ERROR_BYTES_MAX];
    uint8_t key[RBENCH_KEY_BYTES_MAX + 1];
    uint8_t end[RBENCH_KEY_BYTES_MAX + 1];
};

static ProtobufCBinaryData bytes_of(const uint8_t *data, size_t len)
{
    return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)data};
}

static void put_u64_le(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64_le(const uint8_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

/* ---- Streams ------------------------------------------------------------------------------- */

static void watch_events(struct watch_state *ws, const Etcdserverpb__WatchResponse *resp)
{
    struct rbench_engine *e = ws->e;
    uint64_t now_ns = rbench_now_ns();
    for (size_t i = 0; i < resp->n_events; i++) {
        const Mvccpb__Event *ev = resp->events[i];
        e->result->events_delivered++;
        if (!ws->measure_events)
            continue;
        if (ev->kv == NULL || ev->kv->value.len < 8) {
            rbench_engine_error(e, GRPC_STATUS_INTERNAL, "a watch event without a send time");
            continue;
        }
        uint64_t intended_ns = get_u64_le(ev->kv->value.data);
        rbench_engine_record(e, now_ns > intended_ns ? now_ns - intended_ns : 0, now_ns);
    }
}

static void watch_message(void *arg, struct grpc_client_call *call,
                          const struct grpc_client_message *message)
{
    (void)call;
    struct watch_stream *s = arg;
    struct watch_state *ws = s->ws;
    const Etcdserverpb__WatchResponse *resp = (const void *)message->decoded;
    if (resp == NULL) {
        rbench_engine_error(ws->e, GRPC_STATUS_INTERNAL, "undecodable WatchResponse");
        return;
    }
    if (resp->created)
        ws->created++;
    if (resp->canceled && !ws->tearing_down)
        rbench_engine_error(ws->e, GRPC_STATUS_CANCELLED,
                            resp->cancel_reason[0] ? resp->cancel_reason : "watch canceled");
    watch_events(ws, resp);
}

static void watch_done(void *arg, const struct grpc_client_result *result)
{
    struct watch_stream *s = arg;
    struct watch_state *ws = s->ws;
    s->ended = true;
    s->call = NULL;
    if (ws->tearing_down)
        return;
    /* A stream that ends on its own is a failure, whatever its status. */
    enum grpc_status status =
        result->status == GRPC_STATUS_OK ? GRPC_STATUS_UNAVAILABLE : result->status;
    if (ws->ended_message[0] == '\0') {
        ws->ended_status = status;
        snprintf(ws->ended_message, sizeof(ws->ended_message), "%s",
                 result->message[0] ? result->message : "the watch stream ended");
    }
    rbench_engine_error(ws->e, status, result->message[0] ? result->message : "watch stream ended");
}

static int streams_open(struct watch_state *ws)
{
    struct rbench_engine *e = ws->e;
    const struct rbench_config *c = e->config;
    for (uint32_t j = 0; j < ws->streams_count; j++) {
        struct watch_stream *s = &ws->streams[j];
        *s = (struct watch_stream){.ws = ws, .index = j};
        s->watchers = c->watchers / ws->streams_count + (j < c->watchers % ws->streams_count);
        struct grpc_client_request r = {.path = "/etcdserverpb.Watch/Watch",
                                        .response = &etcdserverpb__watch_response__descriptor};
        int rc = grpc_client_stream_open(e->conns[j % e->conns_count], &r, &s->call, s,
                                         watch_message, watch_done);
        if (rc < 0)
            return rbench_engine_fail(e, GRPC_STATUS_INTERNAL, "cannot open a watch stream: %s",
                                      strerror(-rc));
    }
    return 0;
}

/* The create request of the n-th watcher of stream j (watcher j + n * streams overall). */
static void watch_create_fill(struct watch_state *ws, uint32_t watcher,
                              Etcdserverpb__WatchCreateRequest *create)
{
    const struct rbench_config *c = ws->e->config;
    *create = (Etcdserverpb__WatchCreateRequest)ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;
    if (c->workload == RBENCH_WL_WATCH_GET) {
        create->key = bytes_of((const uint8_t *)WATCH_GET_KEY, strlen(WATCH_GET_KEY));
        create->start_revision = ws->start_revision;
        return;
    }
    uint64_t starts = c->watched_key_total - c->watch_range_keys + 1u;
    uint64_t first = watcher % starts;
    rbench_keys_format(&ws->e->keys, first, ws->key);
    create->key = bytes_of(ws->key, c->key_size);
    if (c->watch_range_keys > 1) {
        rbench_keys_format(&ws->e->keys, first + c->watch_range_keys - 1u, ws->end);
        ws->end[c->key_size] = 0;
        create->range_end = bytes_of(ws->end, c->key_size + 1u);
    }
}

/* Queues as many create requests as the streams take now. Returns 0 when all are queued,
 * 1 when some must wait for a turn, or a failure. */
static int creates_send(struct watch_state *ws)
{
    bool waiting = false;
    for (uint32_t j = 0; j < ws->streams_count; j++) {
        struct watch_stream *s = &ws->streams[j];
        while (!s->ended && s->sent < s->watchers) { /* bounded by the stream's watchers */
            Etcdserverpb__WatchCreateRequest create;
            watch_create_fill(ws, j + s->sent * ws->streams_count, &create);
            Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
            req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
            req.create_request = &create;
            int rc = grpc_client_stream_send(s->call, &req.base);
            if (rc == -RINGD_EFULL) {
                waiting = true;
                break;
            }
            if (rc < 0)
                return rbench_engine_fail(ws->e, GRPC_STATUS_INTERNAL,
                                          "cannot send a watch create request: %s", strerror(-rc));
            s->sent++;
        }
    }
    return waiting ? 1 : 0;
}

static bool stream_failed(const struct watch_state *ws)
{
    return ws->ended_message[0] != '\0';
}

static bool creates_sendable(void *arg)
{
    struct watch_state *ws = arg;
    return stream_failed(ws) || creates_send(ws) != 1;
}

static bool enough_created(void *arg)
{
    struct watch_state *ws = arg;
    return stream_failed(ws) || ws->created >= ws->created_wanted;
}

/* Opens the streams, queues every create request and waits until `wanted` watchers are
 * created (watch: all; watch-get: the first, as etcd's benchmark starts its reads then). */
static int watchers_start(struct watch_state *ws, uint64_t wanted)
{
    struct rbench_engine *e = ws->e;
    int rc = streams_open(ws);
    if (rc < 0)
        return rc;
    rc = rbench_engine_wait(e, ws, creates_sendable);
    if (e->result->fatal != 0)
        return e->result->fatal;
    ws->created_wanted = wanted;
    if (rc == 0 && !stream_failed(ws))
        rc = rbench_engine_wait(e, ws, enough_created);
    if (stream_failed(ws))
        return rbench_engine_fail(e, ws->ended_status, "Watch: %s: %s",
                                  rbench_status_name(ws->ended_status), ws->ended_message);
    if (rc < 0)
        return rbench_engine_fail(e, GRPC_STATUS_DEADLINE_EXCEEDED,
                                  "watchers not created in time (%llu of %u)",
                                  (unsigned long long)ws->created, e->config->watchers);
    return 0;
}

static struct watch_state *state_new(struct rbench_engine *e)
{
    struct watch_state *ws = calloc(1, sizeof(*ws));
    if (ws == NULL)
        return NULL;
    ws->e = e;
    ws->streams_count = e->config->streams;
    ws->streams = calloc(ws->streams_count, sizeof(*ws->streams));
    if (ws->streams == NULL) {
        free(ws);
        return NULL;
    }
    e->state = ws;
    return ws;
}

static void watch_teardown(struct rbench_engine *e)
{
    struct watch_state *ws = e->state;
    if (ws == NULL)
        return;
    ws->tearing_down = true;
    for (uint32_t j = 0; j < ws->streams_count; j++)
        if (ws->streams[j].call != NULL && !ws->streams[j].ended)
            grpc_client_call_cancel(ws->streams[j].call);
}

static void watch_destroy(struct rbench_engine *e)
{
    struct watch_state *ws = e->state;
    if (ws == NULL)
        return;
    free(ws->streams);
    free(ws->per_key);
    free(ws);
    e->state = NULL;
}

/* ---- watch --------------------------------------------------------------------------------- */

/* Watchers per key with a difference array: O(watchers + keys), not O(watchers * range). */
static int per_key_count(struct watch_state *ws)
{
    const struct rbench_config *c = ws->e->config;
    uint64_t keys = c->watched_key_total;
    ws->per_key = calloc(keys + 1u, sizeof(*ws->per_key));
    if (ws->per_key == NULL)
        return -ENOMEM;
    uint64_t starts = keys - c->watch_range_keys + 1u;
    for (uint32_t i = 0; i < c->watchers; i++) {
        ws->per_key[i % starts]++;
        ws->per_key[i % starts + c->watch_range_keys]--; /* wraps; the prefix sum undoes it */
    }
    uint32_t running = 0;
    for (uint64_t k = 0; k < keys; k++) {
        running += ws->per_key[k];
        ws->per_key[k] = running;
    }
    return 0;
}

static int watch_setup(struct rbench_engine *e)
{
    struct watch_state *ws = state_new(e);
    if (ws == NULL || per_key_count(ws) < 0)
        return rbench_engine_fail(e, GRPC_STATUS_OK, "out of memory");
    ws->measure_events = true;
    return watchers_start(ws, e->config->watchers);
}

static void watch_put_done(void *arg, const struct grpc_client_result *result)
{
    struct rbench_slot *slot = arg;
    struct rbench_engine *e = slot->engine;
    struct watch_state *ws = e->state;
    ws->writes_end_ns = rbench_now_ns();
    if (result->status != GRPC_STATUS_OK) {
        rbench_engine_complete(e, slot, result->status, result->message);
        return;
    }
    e->result->writes++;
    e->result->events_expected += ws->per_key[slot->key];
    rbench_engine_release(e, slot);
}

static int watch_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    struct watch_state *ws = e->state;
    slot->key = rbench_keys_pick(&e->keys, op);
    rbench_keys_format(&e->keys, slot->key, ws->key);
    put_u64_le(e->keys.value, slot->intended_ns);
    Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
    req.key = bytes_of(ws->key, e->config->key_size);
    req.value = bytes_of(e->keys.value, e->keys.value_size);
    struct grpc_client_request r = {.path = "/etcdserverpb.KV/Put",
                                    .message = &req.base,
                                    .timeout_ms = rbench_engine_timeout_ms(e)};
    return grpc_client_unary(slot->conn, &r, NULL, slot, watch_put_done);
}

static bool watch_drained(struct rbench_engine *e, uint64_t now_ns)
{
    struct watch_state *ws = e->state;
    if (e->result->events_delivered >= e->result->events_expected)
        return true;
    uint64_t since = ws->writes_end_ns > e->start_ns ? ws->writes_end_ns : e->start_ns;
    return now_ns >= since + e->config->drain_ns;
}

const struct rbench_workload_ops rbench_watch_ops = {
    .setup = watch_setup,
    .issue = watch_issue,
    .drained = watch_drained,
    .teardown = watch_teardown,
    .destroy = watch_destroy,
};

/* ---- watch-get ----------------------------------------------------------------------------- */

/* The --events puts the watchers will catch up on; the first one's revision is where they
 * start. */
static int watch_get_history(struct watch_state *ws)
{
    struct rbench_engine *e = ws->e;
    for (uint32_t i = 0; i < e->config->events; i++) {
        Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
        req.key = bytes_of((const uint8_t *)WATCH_GET_KEY, strlen(WATCH_GET_KEY));
        req.value = bytes_of(e->keys.value, e->keys.value_size);
        struct grpc_client_request r = {.path = "/etcdserverpb.KV/Put",
                                        .message = &req.base,
                                        .response = &etcdserverpb__put_response__descriptor};
        struct grpc_client_reply reply = {0};
        uint32_t wait_ms = (uint32_t)(e->config->dial_timeout_ns / 1000000u);
        int rc = grpc_client_unary_sync(e->conns[0], &r, wait_ms, &reply);
        if (rc < 0 || reply.status != GRPC_STATUS_OK || reply.response == NULL) {
            enum grpc_status st = rc < 0 ? GRPC_STATUS_INTERNAL : reply.status;
            grpc_client_reply_free(&reply);
            return rbench_engine_fail(e, st, "Put: %s: %s", rbench_status_name(st),
                                      rc < 0 ? strerror(-rc) : reply.message);
        }
        const Etcdserverpb__PutResponse *put = (const void *)reply.response;
        if (i == 0)
            ws->start_revision = put->header != NULL ? put->header->revision : 1;
        grpc_client_reply_free(&reply);
    }
    return 0;
}

static int watch_get_setup(struct rbench_engine *e)
{
    struct watch_state *ws = state_new(e);
    if (ws == NULL)
        return rbench_engine_fail(e, GRPC_STATUS_OK, "out of memory");
    int rc = watch_get_history(ws);
    if (rc < 0)
        return rc;
    e->result->events_expected = (uint64_t)e->config->watchers * e->config->events;
    return watchers_start(ws, 1);
}

static void watch_get_done(void *arg, const struct grpc_client_result *result)
{
    struct rbench_slot *slot = arg;
    rbench_engine_complete(slot->engine, slot, result->status, result->message);
}

static int watch_get_issue(struct rbench_engine *e, struct rbench_slot *slot, uint64_t op)
{
    struct watch_state *ws = e->state;
    rbench_keys_format(&e->keys, rbench_keys_pick(&e->keys, op), ws->key);
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    req.key = bytes_of(ws->key, e->config->key_size);
    req.serializable = e->config->serializable;
    struct grpc_client_request r = {.path = "/etcdserverpb.KV/Range",
                                    .message = &req.base,
                                    .timeout_ms = rbench_engine_timeout_ms(e)};
    return grpc_client_unary(slot->conn, &r, NULL, slot, watch_get_done);
}

static bool watch_get_stop(struct rbench_engine *e)
{
    return e->result->events_delivered >= e->result->events_expected;
}

const struct rbench_workload_ops rbench_watch_get_ops = {
    .setup = watch_get_setup,
    .issue = watch_get_issue,
    .stop = watch_get_stop,
    .teardown = watch_teardown,
    .destroy = watch_destroy,
};
