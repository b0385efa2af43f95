/*
 * The contract between the module loader (core/module_loader.c) and
 * mod_lua: how a script file becomes a module.
 *
 * mod_lua exports this table as the API "lua-loader", version 1.  When
 * "NAME" resolves to mod_NAME.lua (a module) or NAME.lua (a bot) instead
 * of mod_NAME.so, the loader opens and initialises mod_lua, asks it to
 * open the file, and gets back a descriptor built at run time: name,
 * version, dependencies and option schema come from the script (read when
 * it is opened, so `mynahctl check` knows them), the callbacks are
 * mod_lua's.  From there on the module is handled like any other; the
 * operator cannot tell the difference.
 *
 * This header is shared by the core and mod_lua only; it is not part of
 * the public module API.
 */
#ifndef MYNAH_LUA_LOADER_H
#define MYNAH_LUA_LOADER_H

#include <mynah/module.h>

#define LUA_LOADER_API "lua-loader"
#define LUA_LOADER_VERSION 1

typedef struct lua_loader_api {
    /* Reads the script at path and builds the descriptor of module `name`
     * (is_bot: NAME.lua rather than mod_NAME.lua).  `previous` is the
     * descriptor of the running version when this is a reload (so that
     * its state can be saved for the new one), else NULL.  On failure
     * returns NULL with a malloc'd message in *error. */
    const mynah_module_descriptor *(*open)(const char *name, const char *path,
                                           int is_bot,
                                           const mynah_module_descriptor *previous,
                                           char **error);
    /* Tells the loader which module the descriptor became (modules only
     * see their handle, not what is inside it). */
    void (*attach)(const mynah_module_descriptor *descriptor,
                   mynah_module *module);
    /* Frees what open() built, once the module is closed (after fini). */
    void (*close)(const mynah_module_descriptor *descriptor);
} lua_loader_api;

#endif
