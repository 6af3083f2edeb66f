/* The crash test (issue 6): acknowledged writes survive SIGKILL, and revisions never go back.
 *
 * One server, one data directory, the same URLs throughout. Each cycle starts the server (the
 * first on an empty directory), waits until it answers a Range (polled, with a deadline),
 * verifies everything written so far, then lets CLIENTS concurrent callers write over CONNS
 * connections (puts and txn-puts of unique keys, a few deletes of keys acknowledged earlier in
 * the cycle) and kills the server with SIGKILL a seeded 20-300 ms after the writes began, while
 * they are in flight. After the last cycle the server starts once more and everything is
 * verified a last time. A verification reads, at one revision, each cycle's keys and the count
 * of the whole key space, and checks:
 * - every acknowledged put is there with its value, version 1 and mod_revision equal to the
 *   revision its answer carried; every acknowledged delete's key is gone;
 * - a write without an answer (in flight at the kill, or failed) may be there or not, with a
 *   revision no higher than the current one, but the first read after its cycle decides: found,
 *   it must stay with that revision; not found (or deleted), it must never come back. (Stricter
 *   than linearizability, which lets a write without an answer take effect at any later time:
 *   but a single member's first linearizable read after a restart waits until the new term's
 *   first entry commits, and with it every entry the log held, so nothing can come later.)
 * - no key the test never wrote; the revisions of every write known (acknowledged, or found by
 *   a read) distinct;
 * - the current revision is at least every revision acknowledged or read before (and every
 *   write acknowledged after a restart is above the revision read right after it).
 * The first failure stops the run with the cycle, the seed, the key, what was expected and what
 * was found, the servers' last log lines and a line that repeats the run:
 *
 *   RINGD_CRASH_CANDIDATE=etcd  the server under test is Debian's etcd 3.4.23 (default ringd)
 *   RINGD_CRASH_CYCLES=<n>      kill/restart cycles (default 20; `make crash-test`: 200)
 *   RINGD_CRASH_SEED=<n>        the seed (default: from the clock); it fixes the kill delays
 *                               (the operations are drawn from it too, but in the order the
 *                               answers come, so a run repeats its kills, not its writes)
 *
 * Memory is bounded, the test's and the server's: a cycle sends at most PUTS_PER_CYCLE_MAX keys
 * (its kill comes early when they are all sent), 24 bytes of record each; when more than
 * LIVE_KEYS_MAX keys are live at a cycle's start, the oldest cycles are retired (one DeleteRange
 * each, which must delete exactly the keys found, then a Compact) and their records freed; a
 * retired cycle's key found again is a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <etcdserverpb/rpc.pb-c.h>

#include "grpc_client.h"
#include "ringd_error.h"
#include "test_support.h"

#define CYCLES_DEFAULT     20
#define CYCLES_MAX         99999 /* five digits in the key */
#define CLIENTS            64    /* calls in flight while writing */
#define CONNS              4
#define PUTS_PER_CYCLE_MAX 16384 /* keys a cycle sends at most */
#define LIVE_KEYS_MAX      65536 /* more at a cycle's start: the oldest cycles are retired */
#define KILL_DELAY_MS_MIN  20
#define KILL_DELAY_MS_MAX  300
#define CALL_TIMEOUT_MS    10000 /* one write or read */
#define READY_MS           20000 /* start to the first answered Range */
#define READY_POLL_MS      5
#define DRAIN_MS           10000              /* the kill to every call's end */
#define PAGE_KEYS          PUTS_PER_CYCLE_MAX /* a cycle's keys in one answer */
#define DELETE_PERCENT     5
#define TXN_PERCENT        15
#define LOG_TAIL_LINES     25
#define FAILURE_BYTES      1024

#define KEY_PREFIX    "crash/"
#define KEY_END       "crash0" /* '/' + 1: the prefix's range end */
#define KEY_FORMAT    "crash/%05" PRIu32 "/%05" PRIu32 "/%02" PRIu32 "-%05" PRIu32
#define KEY_BYTES     26 /* every key's length */
#define KEY_BUF_BYTES 64 /* room for the widest numbers, which never come */
#define VALUE_MAX     64

/* ---- Randomness ---------------------------------------------------------------------------- */

/* ---- What was written ---------------------------------------------------------------------- */

enum key_state {
    KEY_PUT_SENT,    /* no answer: applied or not; the next verification decides */
    KEY_PRESENT,     /* acknowledged, or found by a verification: must stay at rev */
    KEY_DELETE_SENT, /* present, and a delete went without an answer */
    KEY_ABSENT,      /* deleted (acknowledged, or found so), or a put found missing */
};

struct key_record {
    int64_t rev;     /* KEY_PRESENT, KEY_DELETE_SENT: its mod_revision */
    int64_t del_rev; /* an acknowledged delete's revision; 0 otherwise */
    uint16_t seq;    /* the client's how-many-th key in the cycle */
    uint8_t client;
    uint8_t state; /* enum key_state */
    bool acked;    /* rev came from the put's answer (else from a read) */
    bool del_acked;
    bool txn;  /* put by a Txn */
    bool seen; /* found by the verification under way */
};

/* The keys of one cycle, in the order they were sent. */
struct cycle_log {
    struct key_record *keys; /* NULL once retired */
    uint32_t issued;
    uint32_t present;   /* keys in KEY_PRESENT after the last verification */
    int64_t retire_rev; /* the DeleteRange that removed them all; 0: live */
};

struct crash_run;

/* One of the CLIENTS callers: at most one call in flight. */
struct slot {
    struct crash_run *run;
    uint32_t id;
    uint32_t seq;
    uint32_t index;    /* the key of the call in flight */
    int32_t deletable; /* a key this client put and saw acknowledged this cycle; -1: none */
};

struct stats {
    uint64_t puts_acked, txns_acked, deletes_acked;
    uint64_t unacked_found, unacked_lost, deletes_unacked_done, deletes_unacked_lost;
    uint64_t errors;           /* answers other than OK, before the kill */
    uint64_t in_flight_killed; /* calls in flight at the kills, summed */
    uint32_t cap_kills;        /* cycles killed early: every key sent */
    uint32_t cycles_retired;
    int64_t keys_retired;
    uint64_t ready_ns, verify_ns, write_ns;
    uint64_t keys_verified_last;
    int64_t verified_rev;
};

struct crash_run {
    uint64_t seed;
    uint32_t cycles;
    enum test_server_kind kind;
    struct test_rng kill_rng; /* the kill delays: the same for a seed whatever the server does */
    struct test_rng op_rng;   /* operations: drawn as answers arrive */
    char data_dir[256];
    struct test_server_options options;
    struct test_server server;
    struct test_server killed; /* the previous incarnation, its log kept until it verified */
    struct grpc_client *client;
    struct grpc_client_conn *conns[CONNS];
    struct cycle_log *log; /* [cycles] */
    uint32_t cycle;        /* being written; == cycles in the last verification */
    uint32_t first_live;   /* the cycles below were retired */
    int64_t rev_floor;     /* the highest revision acknowledged or read so far */
    int64_t life_floor;    /* acknowledged writes must be above: the revision read after the
                              restart, or of the test's own DeleteRange since */
    bool writing;
    bool cap_reached;
    bool passed;
    uint32_t in_flight;
    char failure[FAILURE_BYTES]; /* the first failure found in a callback */
    char first_error[160];
    struct slot slots[CLIENTS];
    struct stats stats;
};

static struct crash_run the_run;

static const char *kind_name(const struct crash_run *run)
{
    return run->kind == TEST_SERVER_ETCD ? "etcd" : "ringd";
}

static void key_format(char *out, uint32_t cycle, uint32_t index, const struct key_record *k)
{
    int n = snprintf(out, KEY_BUF_BYTES, KEY_FORMAT, cycle, index, (uint32_t)k->client,
                     (uint32_t)k->seq);
    assert_int_equal(n, KEY_BYTES);
}

/* The value is the key and a hash of it with the seed, so a value from another run or key
 * cannot pass. */
static uint32_t value_format(char *out, const struct crash_run *run, const char *key,
                             uint32_t cycle, uint32_t index)
{
    struct test_rng r = {.state = run->seed ^ ((uint64_t)cycle << 32) ^ index};
    int n = snprintf(out, VALUE_MAX, "%s=%016" PRIx64, key, test_rng_next(&r));
    assert_true(n > 0 && n < VALUE_MAX);
    return (uint32_t)n;
}

static ProtobufCBinaryData bin(const char *data, size_t len)
{
    return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)data};
}

/* ---- Failure reports ---------------------------------------------------------------------- */

static void note_failure(struct crash_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Keeps the first failure found inside a callback; the writer stops at it. */
static void note_failure(struct crash_run *run, const char *fmt, ...)
{
    run->writing = false;
    if (run->failure[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(run->failure, sizeof(run->failure), fmt, ap);
    va_end(ap);
}

static void crash_fail(struct crash_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void crash_fail(struct crash_run *run, const char *fmt, ...)
{
    char what[FAILURE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (run->killed.proc.dir[0] != '\0')
        test_server_print_log_tail(&run->killed, LOG_TAIL_LINES);
    if (run->server.proc.dir[0] != '\0')
        test_server_print_log_tail(&run->server, LOG_TAIL_LINES);
    fprintf(stderr,
            "crash: FAILED against %s in cycle %" PRIu32 " of %" PRIu32 ", seed %" PRIu64
            ":\n  %s\n",
            kind_name(run), run->cycle, run->cycles, run->seed, what);
    fprintf(stderr, "  data directory kept: %s\n", run->data_dir);
    fprintf(stderr,
            "  repeat: RINGD_CRASH_CANDIDATE=%s RINGD_CRASH_SEED=%" PRIu64
            " RINGD_CRASH_CYCLES=%" PRIu32 " RINGD_BIN=%s tests/test_crash (in the build)\n",
            kind_name(run), run->seed, run->cycles, test_ringd_bin());
    fail_msg("crash: cycle %" PRIu32 ", seed %" PRIu64 ": %s", run->cycle, run->seed, what);
}

static void check_failure(struct crash_run *run)
{
    if (run->failure[0] != '\0')
        crash_fail(run, "%s", run->failure);
}

/* Connects, waiting a turn or two while closed connections give their slots back. */
static struct grpc_client_conn *connect_server(struct crash_run *run)
{
    struct grpc_client_conn *conn = NULL;
    int rc = grpc_client_connect(run->client, run->server.endpoint, &conn);
    for (int turns = 0; rc == -RINGD_EFULL && turns < 100; turns++) {
        assert_true(grpc_client_run_once(run->client, 1) >= 0);
        rc = grpc_client_connect(run->client, run->server.endpoint, &conn);
    }
    assert_int_equal(rc, 0);
    return conn;
}

/* ---- Writing ------------------------------------------------------------------------------ */

static void slot_next(struct slot *s);

/* An acknowledged write's revision: after the restart's, and counted in the floor. */
static bool ack_revision(struct crash_run *run, const Etcdserverpb__ResponseHeader *h,
                         const char *what, const char *key)
{
    if (h == NULL || h->revision <= run->life_floor) {
        note_failure(run,
                     "%s of %s acknowledged at revision %" PRId64 ", but the server was at "
                     "revision %" PRId64 " when it restarted: revisions went back",
                     what, key, h != NULL ? h->revision : 0, run->life_floor);
        return false;
    }
    if (h->revision > run->rev_floor)
        run->rev_floor = h->revision;
    return true;
}

static void count_error(struct crash_run *run, const struct grpc_client_result *result)
{
    if (!run->writing)
        return;
    run->stats.errors++;
    if (run->first_error[0] == '\0')
        snprintf(run->first_error, sizeof(run->first_error), "status %d \"%s\"",
                 (int)result->status, result->message);
}

static void put_done(void *arg, const struct grpc_client_result *result)
{
    struct slot *s = arg;
    struct crash_run *run = s->run;
    struct key_record *k = &run->log[run->cycle].keys[s->index];
    run->in_flight--;
    char key[KEY_BUF_BYTES];
    key_format(key, run->cycle, s->index, k);
    const ProtobufCMessage *m = result->response.decoded;
    if (result->status != GRPC_STATUS_OK || m == NULL) {
        count_error(run, result);
        slot_next(s);
        return;
    }
    const Etcdserverpb__ResponseHeader *h;
    if (k->txn) {
        const Etcdserverpb__TxnResponse *t = (const void *)m;
        h = t->header;
        if (!t->succeeded)
            note_failure(run, "the txn putting %s (create_revision = 0) did not succeed", key);
    } else {
        h = ((const Etcdserverpb__PutResponse *)m)->header;
    }
    if (!ack_revision(run, h, k->txn ? "a txn put" : "a put", key))
        return;
    k->state = KEY_PRESENT;
    k->rev = h->revision;
    k->acked = true;
    if (k->txn)
        run->stats.txns_acked++;
    else
        run->stats.puts_acked++;
    s->deletable = (int32_t)s->index;
    slot_next(s);
}

static void delete_done(void *arg, const struct grpc_client_result *result)
{
    struct slot *s = arg;
    struct crash_run *run = s->run;
    struct key_record *k = &run->log[run->cycle].keys[s->index];
    run->in_flight--;
    char key[KEY_BUF_BYTES];
    key_format(key, run->cycle, s->index, k);
    const Etcdserverpb__DeleteRangeResponse *d = (const void *)result->response.decoded;
    if (result->status != GRPC_STATUS_OK || d == NULL) {
        count_error(run, result);
        slot_next(s);
        return;
    }
    if (d->deleted != 1)
        note_failure(
            run, "deleting %s (put acknowledged at revision %" PRId64 ") deleted %" PRId64 " keys",
            key, k->rev, d->deleted);
    if (!ack_revision(run, d->header, "a delete", key))
        return;
    k->state = KEY_ABSENT;
    k->del_rev = d->header->revision;
    k->del_acked = true;
    run->stats.deletes_acked++;
    slot_next(s);
}

static void start_call(struct slot *s, const char *path, const ProtobufCMessage *message,
                       const ProtobufCMessageDescriptor *response, grpc_client_done_fn done)
{
    struct crash_run *run = s->run;
    const struct grpc_client_request req = {
        .path = path, .message = message, .response = response, .timeout_ms = CALL_TIMEOUT_MS};
    assert_int_equal(grpc_client_unary(run->conns[s->id % CONNS], &req, NULL, s, done), 0);
    run->in_flight++;
}

static void start_delete(struct slot *s)
{
    struct crash_run *run = s->run;
    s->index = (uint32_t)s->deletable;
    s->deletable = -1;
    struct key_record *k = &run->log[run->cycle].keys[s->index];
    assert_int_equal(k->state, KEY_PRESENT);
    k->state = KEY_DELETE_SENT;
    char key[KEY_BUF_BYTES];
    key_format(key, run->cycle, s->index, k);
    Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    del.key = bin(key, KEY_BYTES);
    start_call(s, "/etcdserverpb.KV/DeleteRange", &del.base,
               &etcdserverpb__delete_range_response__descriptor, delete_done);
}

/* A put, or a txn that puts if the key was never created. */
static void start_put(struct slot *s, bool txn)
{
    struct crash_run *run = s->run;
    struct cycle_log *c = &run->log[run->cycle];
    s->index = c->issued++;
    struct key_record *k = &c->keys[s->index];
    *k = (struct key_record){.seq = (uint16_t)s->seq++, .client = (uint8_t)s->id, .txn = txn};
    char key[KEY_BUF_BYTES], value[VALUE_MAX];
    key_format(key, run->cycle, s->index, k);
    uint32_t value_len = value_format(value, run, key, run->cycle, s->index);
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    put.key = bin(key, KEY_BYTES);
    put.value = bin(value, value_len);
    if (!txn) {
        start_call(s, "/etcdserverpb.KV/Put", &put.base, &etcdserverpb__put_response__descriptor,
                   put_done);
        return;
    }
    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
    cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
    cmp.key = put.key;
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
    cmp.create_revision = 0;
    Etcdserverpb__Compare *cmps[1] = {&cmp};
    Etcdserverpb__RequestOp then = ETCDSERVERPB__REQUEST_OP__INIT;
    then.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    then.request_put = &put;
    Etcdserverpb__RequestOp *thens[1] = {&then};
    Etcdserverpb__TxnRequest req = ETCDSERVERPB__TXN_REQUEST__INIT;
    req.n_compare = 1;
    req.compare = cmps;
    req.n_success = 1;
    req.success = thens;
    start_call(s, "/etcdserverpb.KV/Txn", &req.base, &etcdserverpb__txn_response__descriptor,
               put_done);
}

static void slot_next(struct slot *s)
{
    struct crash_run *run = s->run;
    if (!run->writing)
        return;
    uint32_t roll = test_rng_below(&run->op_rng, 100);
    if (roll < DELETE_PERCENT && s->deletable >= 0) {
        start_delete(s);
        return;
    }
    if (run->log[run->cycle].issued == PUTS_PER_CYCLE_MAX) {
        run->cap_reached = true;
        return;
    }
    start_put(s, roll >= 100 - TXN_PERCENT);
}

static bool no_calls_in_use(void *arg)
{
    return grpc_client_calls_in_use(arg) == 0;
}

static void close_conns(struct crash_run *run)
{
    for (uint32_t i = 0; i < CONNS; i++) {
        if (run->conns[i] != NULL)
            grpc_client_conn_close(run->conns[i]);
        run->conns[i] = NULL;
    }
}

/* Writes until the cycle's kill delay passes (or every key of the cycle was sent), kills the
 * server with writes in flight, then lets every call end. Returns the delay drawn. */
static uint32_t write_and_kill(struct crash_run *run)
{
    struct cycle_log *c = &run->log[run->cycle];
    c->keys = malloc(PUTS_PER_CYCLE_MAX * sizeof(*c->keys));
    assert_non_null(c->keys);
    for (uint32_t i = 0; i < CONNS; i++)
        run->conns[i] = connect_server(run);
    uint32_t delay_ms = KILL_DELAY_MS_MIN +
                        test_rng_below(&run->kill_rng, KILL_DELAY_MS_MAX - KILL_DELAY_MS_MIN + 1);
    run->writing = true;
    run->cap_reached = false;
    for (uint32_t i = 0; i < CLIENTS; i++) {
        run->slots[i] = (struct slot){.run = run, .id = i, .deletable = -1};
        slot_next(&run->slots[i]);
    }
    uint64_t start_ns = test_now_ns();
    uint64_t kill_ns = start_ns + (uint64_t)delay_ms * 1000000u;
    for (uint64_t now = start_ns; now < kill_ns && run->writing && !run->cap_reached;
         now = test_now_ns())
        assert_true(grpc_client_run_once_ns(run->client, kill_ns - now) >= 0);
    run->writing = false;
    run->stats.in_flight_killed += run->in_flight;
    run->stats.cap_kills += run->cap_reached;
    int status = test_server_kill(&run->server);
    run->stats.write_ns += test_now_ns() - start_ns;
    if (run->failure[0] == '\0' && status != 128 + SIGKILL)
        crash_fail(run, "the server had exited (status %d) before the kill", status);
    close_conns(run);
    if (grpc_client_run_until(run->client, DRAIN_MS, run->client, no_calls_in_use) != 0)
        crash_fail(run, "calls still open %d ms after the kill", DRAIN_MS);
    assert_int_equal(run->in_flight, 0);
    check_failure(run);
    /* Keep only the records of keys sent. */
    struct key_record *kept = realloc(c->keys, (c->issued + 1) * sizeof(*c->keys));
    assert_non_null(kept);
    c->keys = kept;
    return delay_ms;
}

/* ---- Starting -------------------------------------------------------------------------------- */

/* One call that must answer OK within its deadline: 0, or -1 with the reason in reply. */
static int call_sync(struct grpc_client_conn *conn, const char *path,
                     const ProtobufCMessage *message, const ProtobufCMessageDescriptor *response,
                     struct grpc_client_reply *reply)
{
    return test_unary_sync(conn, path, message, response, CALL_TIMEOUT_MS, reply);
}

static int range_call(struct grpc_client_conn *conn, const Etcdserverpb__RangeRequest *r,
                      struct grpc_client_reply *reply)
{
    return call_sync(conn, "/etcdserverpb.KV/Range", &r->base,
                     &etcdserverpb__range_response__descriptor, reply);
}

/* The server exited by itself: its status, or -1 while it runs. */
static int server_exited(struct test_server *s)
{
    int status;
    if (s->proc.pid <= 0 || waitpid(s->proc.pid, &status, WNOHANG) != s->proc.pid)
        return -1;
    s->proc.pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Starts the server on the data directory and polls with Ranges until one answers. */
static void server_start(struct crash_run *run)
{
    uint64_t start_ns = test_now_ns();
    if (test_server_spawn(&run->server, run->kind, &run->options) != 0)
        crash_fail(run, "could not start %s", test_server_name(&run->server));
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = bin(KEY_PREFIX, strlen(KEY_PREFIX));
    r.range_end = bin(KEY_END, strlen(KEY_END));
    r.count_only = true;
    char last[GRPC_CLIENT_STATUS_MESSAGE_BYTES_MAX + 32] = "none";
    const struct timespec pause = {.tv_nsec = READY_POLL_MS * 1000000L};
    for (;;) {
        int status = server_exited(&run->server);
        if (status >= 0)
            crash_fail(run, "the server exited with status %d while starting", status);
        struct grpc_client_conn *conn = connect_server(run);
        struct grpc_client_reply reply;
        int rc = range_call(conn, &r, &reply);
        snprintf(last, sizeof(last), "status %d \"%s\"", (int)reply.status, reply.message);
        grpc_client_reply_free(&reply);
        grpc_client_conn_close(conn);
        if (rc == 0)
            break;
        if (test_now_ns() - start_ns > (uint64_t)READY_MS * 1000000u)
            crash_fail(run, "the server did not answer a Range within %d ms (last answer: %s)",
                       READY_MS, last);
        nanosleep(&pause, NULL);
    }
    run->stats.ready_ns += test_now_ns() - start_ns;
}

/* ---- Verifying --------------------------------------------------------------------------------
 */

struct verify {
    int64_t rev; /* the revision every page is read at */
    int64_t *revs;
    uint64_t revs_count, revs_max;
    uint64_t keys;
};

static void describe(char *out, size_t len, const struct key_record *k)
{
    static const char *const states[] = {
        [KEY_PUT_SENT] = "put without an answer",
        [KEY_PRESENT] = "present",
        [KEY_DELETE_SENT] = "delete without an answer",
        [KEY_ABSENT] = "absent",
    };
    if (k->del_acked)
        snprintf(out, len, "deleted, acknowledged at revision %" PRId64 " (put at %" PRId64 ")",
                 k->del_rev, k->rev);
    else if (k->state == KEY_ABSENT)
        snprintf(out, len, "absent since a restart (%s)",
                 k->rev != 0 ? "deleted without an answer" : "put without an answer");
    else
        snprintf(out, len, "%s at revision %" PRId64 " (%s%s)", states[k->state], k->rev,
                 k->acked ? "acknowledged" : "found after a restart", k->txn ? ", by a txn" : "");
}

/* One key the server returned: it must be one the test wrote, as it wrote it. */
static void verify_kv(struct crash_run *run, struct verify *v, const Mvccpb__KeyValue *kv)
{
    char key[KEY_BUF_BYTES], expected[VALUE_MAX], was[160];
    uint32_t cycle, index, client, seq;
    int end = 0;
    snprintf(key, sizeof(key), "%.*s", (int)kv->key.len, (const char *)kv->key.data);
    bool parsed = kv->key.len == KEY_BYTES &&
                  sscanf(key, "crash/%5" SCNu32 "/%5" SCNu32 "/%2" SCNu32 "-%5" SCNu32 "%n", &cycle,
                         &index, &client, &seq, &end) == 4 &&
                  end == KEY_BYTES;
    if (parsed && cycle < run->first_live)
        crash_fail(run,
                   "found key %s (revision %" PRId64 ") of cycle %" PRIu32
                   ", whose keys were all deleted at revision %" PRId64,
                   key, kv->mod_revision, cycle, run->log[cycle].retire_rev);
    if (!parsed || cycle >= run->cycle || index >= run->log[cycle].issued)
        crash_fail(run, "found key %.*s (revision %" PRId64 "), which the test never wrote",
                   (int)kv->key.len, (const char *)kv->key.data, kv->mod_revision);
    struct key_record *k = &run->log[cycle].keys[index];
    char written[KEY_BUF_BYTES];
    key_format(written, cycle, index, k);
    if (k->client != client || k->seq != seq || strcmp(key, written) != 0)
        crash_fail(run, "found key %s (revision %" PRId64 "), but the test wrote %s", key,
                   kv->mod_revision, written);
    describe(was, sizeof(was), k);
    uint32_t len = value_format(expected, run, key, cycle, index);
    if (kv->value.len != len || memcmp(kv->value.data, expected, len) != 0)
        crash_fail(run, "key %s: value \"%.*s\", expected \"%s\" (%s)", key, (int)kv->value.len,
                   (const char *)kv->value.data, expected, was);
    if (kv->version != 1 || kv->create_revision != kv->mod_revision || kv->mod_revision <= 0 ||
        kv->mod_revision > v->rev)
        crash_fail(run,
                   "key %s: version %" PRId64 ", create_revision %" PRId64 ", mod_revision %" PRId64
                   " at revision %" PRId64 " (%s)",
                   key, kv->version, kv->create_revision, kv->mod_revision, v->rev, was);
    if (k->state == KEY_ABSENT)
        crash_fail(run, "key %s: found at revision %" PRId64 ", expected absent: %s", key,
                   kv->mod_revision, was);
    if (k->state == KEY_PUT_SENT) {
        k->state = KEY_PRESENT;
        k->rev = kv->mod_revision;
        run->stats.unacked_found++;
    }
    if (k->rev != kv->mod_revision)
        crash_fail(run, "key %s: found at revision %" PRId64 ", expected %s", key, kv->mod_revision,
                   was);
    k->seen = true;
    assert_true(v->revs_count < v->revs_max);
    v->revs[v->revs_count++] = kv->mod_revision;
    v->keys++;
}

/* One Range at the verification's revision; the first one read sets it. */
static const Etcdserverpb__RangeResponse *
verify_range(struct crash_run *run, struct grpc_client_conn *conn, struct verify *v,
             Etcdserverpb__RangeRequest *r, struct grpc_client_reply *reply)
{
    r->revision = v->rev;
    if (range_call(conn, r, reply) != 0)
        crash_fail(run, "a verifying Range failed: status %d \"%s\"", (int)reply->status,
                   reply->message);
    const Etcdserverpb__RangeResponse *resp = (const void *)reply->response;
    if (v->rev == 0)
        v->rev = resp->header != NULL ? resp->header->revision : 0;
    if (v->rev <= 0)
        crash_fail(run, "a verifying Range answered without a revision");
    return resp;
}

/* Reads [start, end) a page at a time. */
static void verify_read_range(struct crash_run *run, struct grpc_client_conn *conn,
                              struct verify *v, const char *start, const char *end)
{
    char from[KEY_BUF_BYTES + 1];
    size_t from_len = strlen(start);
    memcpy(from, start, from_len);
    for (bool more = true; more;) {
        Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
        r.key = bin(from, from_len);
        r.range_end = bin(end, strlen(end));
        r.limit = PAGE_KEYS;
        struct grpc_client_reply reply;
        const Etcdserverpb__RangeResponse *resp = verify_range(run, conn, v, &r, &reply);
        for (size_t i = 0; i < resp->n_kvs; i++)
            verify_kv(run, v, resp->kvs[i]);
        more = resp->more && resp->n_kvs > 0;
        if (more) {
            const ProtobufCBinaryData *last = &resp->kvs[resp->n_kvs - 1]->key;
            assert_true(last->len <= KEY_BYTES);
            memcpy(from, last->data, last->len);
            from[last->len] = '\0'; /* the next key after it */
            from_len = last->len + 1;
        }
        grpc_client_reply_free(&reply);
    }
}

/* Counts the whole key space, then reads each cycle's keys with a Range of their own: etcd 3.4
 * walks the rest of a range for every page it answers, so paging through all keys at once
 * costs their square. A key outside the cycles' ranges shows in the count. */
static void verify_read(struct crash_run *run, struct grpc_client_conn *conn, struct verify *v)
{
    Etcdserverpb__RangeRequest r = ETCDSERVERPB__RANGE_REQUEST__INIT;
    r.key = bin(KEY_PREFIX, strlen(KEY_PREFIX));
    r.range_end = bin(KEY_END, strlen(KEY_END));
    r.count_only = true;
    struct grpc_client_reply reply;
    int64_t count = verify_range(run, conn, v, &r, &reply)->count;
    grpc_client_reply_free(&reply);
    for (uint32_t c = run->first_live; c < run->cycle; c++) {
        char start[KEY_BUF_BYTES], end[KEY_BUF_BYTES];
        snprintf(start, sizeof(start), KEY_PREFIX "%05" PRIu32 "/", c);
        snprintf(end, sizeof(end), KEY_PREFIX "%05" PRIu32 "0", c); /* '/' + 1 */
        verify_read_range(run, conn, v, start, end);
    }
    if (count != (int64_t)v->keys)
        crash_fail(run,
                   "%" PRId64 " keys under " KEY_PREFIX " at revision %" PRId64
                   ", but the ranges of the live cycles hold %" PRIu64
                   ": keys the test never wrote, or of a retired cycle",
                   count, v->rev, v->keys);
}

/* What a verification found missing: the first key, and how many. */
struct missing {
    uint64_t count, acked;
    char first[KEY_BUF_BYTES + 200];
};

/* One record the read did not return, or returned while a delete was pending. */
static void settle(struct crash_run *run, struct key_record *k, struct missing *m, const char *key)
{
    if (k->seen && k->state == KEY_DELETE_SENT) {
        k->state = KEY_PRESENT;
        run->stats.deletes_unacked_lost++;
    } else if (!k->seen && k->state == KEY_PRESENT) {
        m->acked += k->acked;
        if (m->count++ == 0) {
            char was[160];
            describe(was, sizeof(was), k);
            snprintf(m->first, sizeof(m->first), "%s: missing, expected %s", key, was);
        }
    } else if (!k->seen && k->state == KEY_PUT_SENT) {
        k->state = KEY_ABSENT;
        run->stats.unacked_lost++;
    } else if (!k->seen && k->state == KEY_DELETE_SENT) {
        k->state = KEY_ABSENT;
        run->stats.deletes_unacked_done++;
    }
    k->seen = false;
}

/* Every record the read did not return: must it have? Settles the writes without an answer. */
static void verify_missing(struct crash_run *run, struct verify *v)
{
    struct missing m = {0};
    uint64_t present = 0;
    for (uint32_t c = run->first_live; c < run->cycle; c++) {
        run->log[c].present = 0;
        for (uint32_t i = 0; i < run->log[c].issued; i++) {
            struct key_record *k = &run->log[c].keys[i];
            char key[KEY_BUF_BYTES];
            key_format(key, c, i, k);
            /* Revisions the read cannot show: deleted keys' puts, and the deletes. */
            assert_true(v->revs_count + 2 <= v->revs_max);
            if (!k->seen && k->state == KEY_ABSENT && k->rev != 0)
                v->revs[v->revs_count++] = k->rev;
            if (k->del_acked)
                v->revs[v->revs_count++] = k->del_rev;
            present += k->state == KEY_PRESENT;
            settle(run, k, &m, key);
            run->log[c].present += k->state == KEY_PRESENT;
        }
    }
    if (m.count > 0)
        crash_fail(run,
                   "%" PRIu64 " of %" PRIu64 " keys that must be there are missing (%" PRIu64
                   " of them acknowledged); the server is at revision %" PRId64
                   ", the highest revision acknowledged or read before is %" PRId64
                   "; the first missing key: %s",
                   m.count, present, m.acked, v->rev, run->rev_floor, m.first);
}

static int compare_revs(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void verify_distinct(struct crash_run *run, struct verify *v)
{
    qsort(v->revs, v->revs_count, sizeof(v->revs[0]), compare_revs);
    for (uint64_t i = 1; i < v->revs_count; i++)
        if (v->revs[i] == v->revs[i - 1])
            crash_fail(run, "revision %" PRId64 " belongs to two writes (see the keys above it)",
                       v->revs[i]);
}

/* Reads everything back and checks it against what every earlier cycle wrote. */
static void verify_all(struct crash_run *run)
{
    uint64_t start_ns = test_now_ns();
    uint64_t records = 0;
    for (uint32_t c = run->first_live; c < run->cycle; c++)
        records += run->log[c].issued;
    struct verify v = {.revs_max = 2 * records + 1};
    v.revs = malloc(v.revs_max * sizeof(v.revs[0]));
    assert_non_null(v.revs);
    struct grpc_client_conn *conn = connect_server(run);
    verify_read(run, conn, &v);
    grpc_client_conn_close(conn);
    verify_missing(run, &v);
    if (v.rev < run->rev_floor)
        crash_fail(run,
                   "the server is at revision %" PRId64
                   " after the restart, below revision %" PRId64
                   " acknowledged or read before: revisions went back",
                   v.rev, run->rev_floor);
    verify_distinct(run, &v);
    free(v.revs);
    run->rev_floor = v.rev;
    run->life_floor = v.rev;
    run->stats.keys_verified_last = v.keys;
    run->stats.verified_rev = v.rev;
    run->stats.verify_ns += test_now_ns() - start_ns;
}

/* Deletes the oldest cycle's keys with one DeleteRange, which must find exactly the keys the
 * verification just found, and forgets them. Returns the delete's revision. */
static int64_t retire_cycle(struct crash_run *run, struct grpc_client_conn *conn)
{
    struct cycle_log *c = &run->log[run->first_live];
    char start[KEY_BUF_BYTES], end[KEY_BUF_BYTES];
    snprintf(start, sizeof(start), KEY_PREFIX "%05" PRIu32 "/", run->first_live);
    snprintf(end, sizeof(end), KEY_PREFIX "%05" PRIu32 "0", run->first_live);
    Etcdserverpb__DeleteRangeRequest del = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
    del.key = bin(start, strlen(start));
    del.range_end = bin(end, strlen(end));
    struct grpc_client_reply reply;
    if (call_sync(conn, "/etcdserverpb.KV/DeleteRange", &del.base,
                  &etcdserverpb__delete_range_response__descriptor, &reply) != 0)
        crash_fail(run, "retiring cycle %" PRIu32 ": DeleteRange failed: status %d \"%s\"",
                   run->first_live, (int)reply.status, reply.message);
    const Etcdserverpb__DeleteRangeResponse *d = (const void *)reply.response;
    int64_t deleted = d->deleted;
    int64_t rev = d->header != NULL ? d->header->revision : 0;
    grpc_client_reply_free(&reply);
    if (deleted != c->present || rev <= run->rev_floor)
        crash_fail(run,
                   "retiring cycle %" PRIu32 ": DeleteRange deleted %" PRId64
                   " keys at revision %" PRId64 ", expected %" PRIu32 " after revision %" PRId64,
                   run->first_live, deleted, rev, c->present, run->rev_floor);
    run->rev_floor = run->life_floor = rev;
    c->retire_rev = rev;
    free(c->keys);
    c->keys = NULL;
    run->stats.cycles_retired++;
    run->stats.keys_retired += deleted;
    run->first_live++;
    return rev;
}

/* Keeps the keys (and the test's records of them) bounded: while more than LIVE_KEYS_MAX are
 * live, the oldest cycle goes, then the history before the last delete is compacted, so the
 * server's data stays bounded too. The compaction runs in the background of the next writes,
 * where the kill may find it. */
static void retire_old_cycles(struct crash_run *run)
{
    uint64_t live = 0;
    for (uint32_t c = run->first_live; c < run->cycle; c++)
        live += run->log[c].present;
    if (live <= LIVE_KEYS_MAX)
        return;
    struct grpc_client_conn *conn = connect_server(run);
    int64_t rev = 0;
    while (live > LIVE_KEYS_MAX) {
        live -= run->log[run->first_live].present;
        rev = retire_cycle(run, conn);
    }
    Etcdserverpb__CompactionRequest compact = ETCDSERVERPB__COMPACTION_REQUEST__INIT;
    compact.revision = rev;
    struct grpc_client_reply reply;
    if (call_sync(conn, "/etcdserverpb.KV/Compact", &compact.base,
                  &etcdserverpb__compaction_response__descriptor, &reply) != 0)
        crash_fail(run, "compacting at revision %" PRId64 " failed: status %d \"%s\"", rev,
                   (int)reply.status, reply.message);
    grpc_client_reply_free(&reply);
    grpc_client_conn_close(conn);
}

/* ---- The test ------------------------------------------------------------------------------ */

static void print_summary(const struct crash_run *run, uint64_t elapsed_ns)
{
    const struct stats *s = &run->stats;
    uint32_t n = run->cycles > 0 ? run->cycles : 1;
    fprintf(stderr,
            "crash: %s passed %" PRIu32 " kill/restart cycles in %.1f s (seed %" PRIu64 ")\n",
            kind_name(run), run->cycles, (double)elapsed_ns / 1e9, run->seed);
    fprintf(stderr,
            "  acknowledged: %" PRIu64 " puts, %" PRIu64 " txn puts, %" PRIu64 " deletes; "
            "%" PRIu64 " keys verified at the end; %" PRIu32 " old cycles retired (%" PRId64
            " keys)\n",
            s->puts_acked, s->txns_acked, s->deletes_acked, s->keys_verified_last,
            s->cycles_retired, s->keys_retired);
    fprintf(stderr,
            "  without an answer: %" PRIu64 " puts found after the restart, %" PRIu64
            " not; %" PRIu64 " deletes done, %" PRIu64 " not\n",
            s->unacked_found, s->unacked_lost, s->deletes_unacked_done, s->deletes_unacked_lost);
    fprintf(stderr,
            "  %.1f calls in flight at a kill on average; %" PRIu32 " kills early (every key"
            " sent); %" PRIu64 " errors before a kill%s%s\n",
            (double)s->in_flight_killed / n, s->cap_kills, s->errors,
            run->first_error[0] != '\0' ? ", the first: " : "", run->first_error);
    fprintf(stderr,
            "  per cycle: %.0f ms to answer after start, %.0f ms verifying, %.0f ms writing\n",
            (double)s->ready_ns / 1e6 / (n + 1), (double)s->verify_ns / 1e6 / (n + 1),
            (double)s->write_ns / 1e6 / n);
}

static void test_crash(void **state)
{
    struct crash_run *run = *state;
    uint64_t start_ns = test_now_ns();
    for (run->cycle = 0; run->cycle < run->cycles; run->cycle++) {
        server_start(run);
        verify_all(run);
        test_server_stop(&run->killed); /* its log is no longer needed */
        struct stats before = run->stats;
        retire_old_cycles(run);
        uint32_t delay_ms = write_and_kill(run);
        run->killed = run->server;
        fprintf(stderr,
                "crash: cycle %" PRIu32 ": %" PRIu64 " keys verified at revision %" PRId64
                ", %" PRIu32 " cycles retired; killed %" PRIu32 " ms into the writes, %" PRIu64
                " acknowledged\n",
                run->cycle, run->stats.keys_verified_last, run->stats.verified_rev,
                run->stats.cycles_retired - before.cycles_retired, delay_ms,
                run->stats.puts_acked + run->stats.txns_acked + run->stats.deletes_acked -
                    before.puts_acked - before.txns_acked - before.deletes_acked);
    }
    server_start(run);
    verify_all(run);
    if (run->stats.puts_acked + run->stats.txns_acked == 0)
        crash_fail(run, "no write was acknowledged in %" PRIu32 " cycles: nothing was tested",
                   run->cycles);
    print_summary(run, test_now_ns() - start_ns);
    run->passed = true;
}

static int run_setup(void **state)
{
    struct crash_run *run = *state;
    const char *name = getenv("RINGD_CRASH_CANDIDATE");
    run->kind = TEST_SERVER_RINGD;
    if (name != NULL && strcmp(name, "etcd") == 0)
        run->kind = TEST_SERVER_ETCD;
    else if (name != NULL && name[0] != '\0' && strcmp(name, "ringd") != 0) {
        fprintf(stderr, "crash: RINGD_CRASH_CANDIDATE must be ringd or etcd, not %s\n", name);
        return -1;
    }
    run->cycles = (uint32_t)test_env_number("RINGD_CRASH_CYCLES", CYCLES_DEFAULT);
    run->seed = test_env_number("RINGD_CRASH_SEED", test_now_ns() ^ ((uint64_t)getpid() << 32));
    if (run->cycles > CYCLES_MAX) {
        fprintf(stderr, "crash: RINGD_CRASH_CYCLES is at most %d\n", CYCLES_MAX);
        return -1;
    }
    run->kill_rng.state = run->seed;
    run->op_rng.state = run->seed ^ 0x6f70657261746f72ull;
    run->log = calloc(run->cycles + 1, sizeof(run->log[0]));
    snprintf(run->data_dir, sizeof(run->data_dir), "%s", test_temp_dir("crash-data"));
    /* A single member elects itself after an election timeout (etcd fast-forwards all but the
     * last tick and randomizes it): 10 ms ticks make a restart take milliseconds, not a second. */
    static char *const args[] = {"--heartbeat-interval", "10", "--election-timeout", "100",
                                 /* etcd 3.5's (and ringd's) default, not 3.4's 100,000: more
                                  * snapshots to be killed in, fewer entries to replay. */
                                 "--snapshot-count", "10000", NULL};
    run->options = (struct test_server_options){.args = args,
                                                .data_dir = run->data_dir,
                                                .client_port = test_free_port(),
                                                .peer_port = test_free_port()};
    struct grpc_client_config config = {.calls_max = CLIENTS + 8, .conns_max = 4 * CONNS};
    if (run->log == NULL || grpc_client_create(&config, &run->client) != 0)
        return -1;
    fprintf(stderr, "crash: %" PRIu32 " cycles against %s, seed %" PRIu64 ", data in %s\n",
            run->cycles, kind_name(run), run->seed, run->data_dir);
    return 0;
}

static int run_teardown(void **state)
{
    struct crash_run *run = *state;
    bool failed = !run->passed;
    if (run->client != NULL)
        grpc_client_destroy(run->client);
    run->client = NULL;
    /* A failed run keeps the data and the logs for a look. */
    if (failed) {
        test_server_kill(&run->server);
        test_server_kill(&run->killed);
        fprintf(stderr, "crash: server logs kept in %s and %s\n", run->killed.proc.dir,
                run->server.proc.dir);
    } else {
        test_server_stop(&run->server);
        test_server_stop(&run->killed);
        test_remove_dir(run->data_dir);
    }
    for (uint32_t c = 0; run->log != NULL && c <= run->cycles; c++)
        free(run->log[c].keys);
    free(run->log);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {{.name = "crash",
                                        .test_func = test_crash,
                                        .setup_func = run_setup,
                                        .teardown_func = run_teardown,
                                        .initial_state = &the_run}};
    return _cmocka_run_group_tests("crash", tests, 1, NULL, NULL);
}
