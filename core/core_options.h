/*
 * The options the core itself reads.  Names are Prosody's wherever Prosody
 * has the option, so that an operator's config carries over.
 */
#ifndef MYNAH_CORE_OPTIONS_H
#define MYNAH_CORE_OPTIONS_H

#include <mynah/module.h>
#include "config.h"

extern const mynah_option_spec core_option_specs[];

/* Reads the reloadable c2s settings into `server`. */
void core_options_apply(const config *cfg);

#endif
