/*
 * mynah: the one header a module includes.
 *
 *   #include <mynah/mynah.h>
 *   cc -shared -fPIC $(pkg-config --cflags mynah) mod_hello.c -o mod_hello.so
 */
#ifndef MYNAH_H
#define MYNAH_H

#include "types.h"
#include "storage.h"
#include "module.h"
#include "api.h"

#endif
