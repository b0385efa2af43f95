/*
 * mynahd: the XMPP server.
 *
 *   mynahd [-c FILE] [-F]
 *
 * -F keeps it in the foreground, logging to stderr unless the config's
 * `log` says otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

#ifndef MYNAH_SYSCONFDIR
#define MYNAH_SYSCONFDIR "/etc"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mynahd [-c FILE] [-F]\n"
            "  -c FILE  the configuration file (default %s/mynah/mynah.cfg.lua)\n"
            "  -F       stay in the foreground, log to stderr\n"
            "  -V       print the version\n",
            MYNAH_SYSCONFDIR);
}

int main(int argc, char **argv)
{
    const char *config_path = MYNAH_SYSCONFDIR "/mynah/mynah.cfg.lua";
    int foreground = 0;
    int opt;
    while ((opt = getopt(argc, argv, "c:FVh")) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'F': foreground = 1; break;
        case 'V': printf("mynahd %s\n", server_version()); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    return server_run(config_path, foreground);
}
