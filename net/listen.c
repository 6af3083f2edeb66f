#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ringd_assert.h"
#include "ringd_limits.h"

static int listen_resolve(const char *host, uint16_t port, struct sockaddr_storage *out,
                          socklen_t *out_len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    char port_text[8];
    snprintf(port_text, sizeof(port_text), "%u", port);
    struct addrinfo *list = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port_text, &hints, &list) != 0)
        return -EADDRNOTAVAIL;
    const struct addrinfo *pick = list;
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    ASSERT(pick->ai_addrlen <= sizeof(*out));
    memcpy(out, pick->ai_addr, pick->ai_addrlen);
    *out_len = pick->ai_addrlen;
    freeaddrinfo(list);
    return 0;
}

static int listen_tcp(const struct listen_spec *spec, bool reuse_port)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int err = listen_resolve(spec->host, spec->port, &addr, &addr_len);
    if (err < 0)
        return err;
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Accepted sockets inherit it: a response must leave at once, not wait for the client's
     * delayed ACK (Nagle's algorithm cost 40 ms at the tail of small request/response traffic).
     * Go, so etcd, sets it on every TCP connection too. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
        goto fail;
    return fd;
fail:
    err = -errno;
    close(fd);
    return err;
}

static int listen_unix(const struct listen_spec *spec)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(spec->path) >= sizeof(addr.sun_path))
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, spec->path);
    /* A socket file left by a process that died would make bind fail; only sockets are
     * removed, never another kind of file. */
    struct stat st;
    if (stat(spec->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(spec->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int listen_open(const struct listen_spec *spec, bool reuse_port)
{
    return spec->is_unix ? listen_unix(spec) : listen_tcp(spec, reuse_port);
}

void listen_describe(int fd, char *buf, size_t len)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = sizeof(addr);
    buf[0] = '\0';
    if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0)
        return;
    char host[INET6_ADDRSTRLEN] = "";
    if (addr.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
    } else if (addr.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (addr.ss_family == AF_UNIX) {
        snprintf(buf, len, "%s", ((struct sockaddr_un *)&addr)->sun_path);
    }
}
