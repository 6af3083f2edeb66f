/* The ringd program: etcd's flags in, a running server out. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "server.h"

/* Turns the parsed client URLs into listen specs (TLS schemes are refused by config_parse
 * until TLS lands, so only http and unix reach here). */
static void main_client_specs(const struct config *cfg, struct server_options *opt)
{
    const struct config_urls *urls = &cfg->listen_client_urls;
    opt->client_count = urls->count;
    for (uint32_t i = 0; i < urls->count; i++) {
        const struct config_url *u = &urls->items[i];
        struct listen_spec *spec = &opt->client[i];
        spec->is_unix = u->scheme == CONFIG_URL_UNIX || u->scheme == CONFIG_URL_UNIXS;
        snprintf(spec->host, sizeof(spec->host), "%s", u->host);
        snprintf(spec->path, sizeof(spec->path), "%s", u->socket_path);
        spec->port = u->port;
        opt->client_urls[i] = u->text;
    }
}

int main(int argc, char **argv, char **envp)
{
    static struct config cfg;
    int r = config_parse(&cfg, argc, argv, envp, stdout, stderr);
    if (r == CONFIG_EXIT_OK)
        return 0;
    if (r < 0)
        return cfg.exit_status;
    log_set_level(cfg.log_level);
    config_log(&cfg);

    static struct server_options opt;
    opt.shards = (uint16_t)cfg.shards;
    main_client_specs(&cfg, &opt);
    return server_run(&opt);
}
