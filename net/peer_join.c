/* Joining a running cluster, the asking side; see peer_join.h. */
#include "peer_join.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peer_internal.h"
#include "ringd_assert.h"

static uint64_t peer_join_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline_ms; -ETIMEDOUT past it. */
static int peer_join_wait(int fd, short events, uint64_t deadline_ms)
{
    for (;;) {
        uint64_t now = peer_join_now_ms();
        if (now >= deadline_ms)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(deadline_ms - now));
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int peer_join_connect(const struct peer_addr *a, uint64_t deadline_ms)
{
    int fd = socket(a->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int err = 0;
    if (connect(fd, (const struct sockaddr *)&a->addr, a->len) != 0) {
        err = errno == EINPROGRESS ? peer_join_wait(fd, POLLOUT, deadline_ms) : -errno;
        socklen_t len = sizeof err;
        int so = 0;
        if (err == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) == 0)
            err = -so;
    }
    if (err < 0) {
        close(fd);
        return err;
    }
    return fd;
}

/* Sends or receives exactly len bytes by the deadline. */
static int peer_join_io(int fd, uint8_t *buf, size_t len, bool send_it, uint64_t deadline_ms)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send_it ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
                            : recv(fd, buf + done, len - done, 0);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n == 0)
            return -ECONNRESET; /* closed before the whole frame */
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
        int err = peer_join_wait(fd, send_it ? POLLOUT : POLLIN, deadline_ms);
        if (err < 0)
            return err;
    }
    return 0;
}

/* One request on fd; the answer's payload goes to payload (PEER_JOIN_RESPONSE_BYTES_MAX). */
static int peer_join_exchange(int fd, uint8_t *payload, uint32_t *len, uint64_t deadline_ms)
{
    uint8_t req[PEER_SMALL_FRAME_BYTES_MAX];
    size_t n = peer_codec_encode_join_request(PEER_PROTOCOL_VERSION, req);
    int err = peer_join_io(fd, req, n, true, deadline_ms);
    uint8_t head[PEER_FRAME_HEAD_BYTES];
    if (err == 0)
        err = peer_join_io(fd, head, sizeof head, false, deadline_ms);
    uint8_t type = 0;
    if (err == 0 &&
        peer_codec_frame_head(head, sizeof head, PEER_JOIN_RESPONSE_BYTES_MAX, &type, len) != 1)
        err = -EMSGSIZE;
    if (err == 0 && type != PEER_FRAME_JOIN_RESPONSE)
        err = -EPROTO; /* not a ringd member that answers joins */
    return err < 0 ? err : peer_join_io(fd, payload, *len, false, deadline_ms);
}

/* Asks the member at url. Returns 0, or a negative error with reason set. */
static int peer_join_ask(const char *url, uint32_t timeout_ms, uint64_t *cluster_id,
                         struct members *out, uint8_t *payload, char *reason, size_t reason_bytes)
{
    struct peer_addr a;
    int err = peer_addr_resolve(url, &a, reason, reason_bytes);
    if (err < 0)
        return err;
    uint64_t deadline_ms = peer_join_now_ms() + timeout_ms;
    int fd = peer_join_connect(&a, deadline_ms);
    uint32_t len = 0;
    err = fd < 0 ? fd : peer_join_exchange(fd, payload, &len, deadline_ms);
    if (fd >= 0)
        close(fd);
    if (err == 0 && (err = peer_codec_decode_join_response(payload, len, cluster_id, out)) < 0)
        snprintf(reason, reason_bytes, "bad join response");
    else if (err < 0)
        snprintf(reason, reason_bytes, "%s", strerror(-err));
    return err;
}

/* The other members' peer URLs, sorted (etcd's getRemotePeerURLs). */
static uint32_t peer_join_urls(const struct cluster_ids *local, const char **urls)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < local->members_count; i++) {
        const struct cluster_member *m = &local->members[i];
        for (uint32_t u = 0; u < m->peer_urls_count && i != local->local; u++) {
            uint32_t j = n++;
            for (; j > 0 && strcmp(urls[j - 1], m->peer_urls[u]) > 0; j--)
                urls[j] = urls[j - 1];
            urls[j] = m->peer_urls[u];
        }
    }
    return n;
}

int peer_join_fetch(const struct cluster_ids *local, uint32_t timeout_ms, uint64_t *cluster_id,
                    struct members *out, char *why, size_t why_bytes)
{
    ASSERT(local->join && local->local < local->members_count);
    static const char *urls[CONFIG_CLUSTER_MEMBERS_MAX * CLUSTER_PEER_URLS_MAX];
    uint32_t n = peer_join_urls(local, urls);
    uint8_t *payload = malloc(PEER_JOIN_RESPONSE_BYTES_MAX);
    int err = payload == NULL ? -ENOMEM : -ETIMEDOUT;
    for (uint32_t i = 0; i < n && payload != NULL; i++) {
        char reason[PEER_URL_ERROR_BYTES_MAX + 64];
        if (peer_join_ask(urls[i], timeout_ms, cluster_id, out, payload, reason, sizeof reason) ==
            0) {
            log_info("fetched the cluster from a member", LOG_STR("address", urls[i]),
                     LOG_U64("members", out->count));
            err = 0;
            break;
        }
        log_warn("failed to get cluster response", LOG_STR("address", urls[i]),
                 LOG_STR("error", reason));
    }
    free(payload);
    if (err < 0)
        snprintf(why, why_bytes,
                 "cannot fetch cluster info from peer urls: could not retrieve cluster "
                 "information from the given URLs");
    return err < 0 ? -ETIMEDOUT : 0;
}
