/*
 * mod_storage_sqlite: the default storage driver, one SQLite database file
 * for the whole server (<data_path>/mynah.sqlite).
 *
 * Durability: the database runs in WAL mode with synchronous=FULL, so a
 * write is on disk (the WAL fsynced) before its callback reports OK; data
 * the server acknowledged survives kill -9 and power loss (doc/storage.md).
 *
 * Every operation completes synchronously: the callback has run when the
 * driver function returns.  Statements are reset before the callback runs,
 * so a callback may start another operation on the same database.
 *
 * Prepared statements are cached per database (not per store) and reused.
 * The schema carries its version in PRAGMA user_version; migrations run in
 * one transaction when the database opens.
 */
#include <mynah/mynah.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 5000 /* mynahctl may write while the server runs */
#define DEFAULT_FILE "mynah.sqlite"

static const mynah_api *api;
static mynah_module *self;

/* ---- schema ---- */

/* Migration N takes the schema from version N-1 to N.  Append only: never
 * edit a migration that has shipped. */
static const char *const migrations[] = {
    /* 1: the initial tables */
    "CREATE TABLE keyval ("
    "  host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,"
    "  value BLOB NOT NULL,"
    "  PRIMARY KEY (host, store, user));"
    "CREATE TABLE map ("
    "  host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,"
    "  key TEXT NOT NULL, value BLOB NOT NULL,"
    "  PRIMARY KEY (host, store, user, key));"
    "CREATE TABLE archive ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  host TEXT NOT NULL, store TEXT NOT NULL, user TEXT NOT NULL,"
    "  when_us INTEGER NOT NULL, with_jid TEXT, value BLOB NOT NULL);"
    "CREATE INDEX archive_by_time ON archive (host, store, user, when_us);",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* ---- cached statements ---- */

enum statement_id {
    ST_KEYVAL_GET,
    ST_KEYVAL_SET,
    ST_KEYVAL_DELETE,
    ST_KEYVAL_USERS,
    ST_MAP_GET,
    ST_MAP_SET,
    ST_MAP_DELETE,
    ST_MAP_LIST,
    ST_ARCHIVE_APPEND,
    ST_ARCHIVE_POSITION,
    ST_ARCHIVE_FIND,
    ST_ARCHIVE_FIND_REVERSE,
    ST_ARCHIVE_DELETE,
    ST_PURGE_KEYVAL,
    ST_PURGE_MAP,
    ST_PURGE_ARCHIVE,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

/* Archive queries: ?4..?5 the time range, (?6,?7) and (?8,?9) the paging
 * bounds as (when_us, id) positions, ?10 the `with` filter.  Unset bounds
 * are bound to the extreme int64 values, which keeps one statement per
 * direction and lets the (host, store, user, when_us) index (whose entries
 * end with the rowid) serve both the range and the ORDER BY. */
#define ARCHIVE_WHERE                                                        \
    " WHERE host = ?1 AND store = ?2 AND user = ?3"                          \
    " AND when_us >= ?4 AND when_us <= ?5"                                   \
    " AND (when_us, id) > (?6, ?7) AND (when_us, id) < (?8, ?9)"             \
    " AND (?10 IS NULL OR with_jid = ?10)"

static const char *const statement_sql[ST_COUNT] = {
    [ST_KEYVAL_GET] = "SELECT value FROM keyval"
                      " WHERE host = ?1 AND store = ?2 AND user = ?3",
    [ST_KEYVAL_SET] = "INSERT OR REPLACE INTO keyval"
                      " (host, store, user, value) VALUES (?1, ?2, ?3, ?4)",
    [ST_KEYVAL_DELETE] =
        "DELETE FROM keyval WHERE host = ?1 AND store = ?2 AND user = ?3",
    [ST_KEYVAL_USERS] = "SELECT user FROM keyval"
                        " WHERE host = ?1 AND store = ?2 ORDER BY user",
    [ST_MAP_GET] = "SELECT value FROM map WHERE host = ?1 AND store = ?2"
                   " AND user = ?3 AND key = ?4",
    [ST_MAP_SET] = "INSERT OR REPLACE INTO map (host, store, user, key, value)"
                   " VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_MAP_DELETE] = "DELETE FROM map WHERE host = ?1 AND store = ?2"
                      " AND user = ?3 AND key = ?4",
    [ST_MAP_LIST] = "SELECT key, value FROM map WHERE host = ?1 AND store = ?2"
                    " AND user = ?3 ORDER BY key",
    [ST_ARCHIVE_APPEND] =
        "INSERT INTO archive (host, store, user, when_us, with_jid, value)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [ST_ARCHIVE_POSITION] = "SELECT when_us FROM archive WHERE id = ?4"
                            " AND host = ?1 AND store = ?2 AND user = ?3",
    [ST_ARCHIVE_FIND] = "SELECT id, when_us, with_jid, value FROM archive"
                        ARCHIVE_WHERE " ORDER BY when_us, id LIMIT ?11",
    [ST_ARCHIVE_FIND_REVERSE] =
        "SELECT id, when_us, with_jid, value FROM archive" ARCHIVE_WHERE
        " ORDER BY when_us DESC, id DESC LIMIT ?11",
    [ST_ARCHIVE_DELETE] = "DELETE FROM archive" ARCHIVE_WHERE,
    [ST_PURGE_KEYVAL] = "DELETE FROM keyval WHERE host = ?1 AND user = ?2",
    [ST_PURGE_MAP] = "DELETE FROM map WHERE host = ?1 AND user = ?2",
    [ST_PURGE_ARCHIVE] = "DELETE FROM archive WHERE host = ?1 AND user = ?2",
    /* IMMEDIATE takes the write lock at once: a deferred transaction that
     * reads and then writes could fail with SQLITE_BUSY in WAL mode
     * without the busy handler being able to help. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

typedef struct sqlite_db {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *statements[ST_COUNT];
} sqlite_db;

typedef struct sqlite_store {
    sqlite_db *db;
    char *host;
    char *name;
    enum mynah_store_kind kind;
} sqlite_store;

static void log_db_error(sqlite_db *db, const char *what)
{
    api->log(self, MYNAH_LOG_ERROR, "%s: %s (%s)", what,
             sqlite3_errmsg(db->db), db->path);
}

/* The cached statement, prepared on first use; NULL (logged) on error. */
static sqlite3_stmt *statement(sqlite_db *db, enum statement_id id)
{
    if (db->statements[id] == NULL &&
        sqlite3_prepare_v3(db->db, statement_sql[id], -1,
                           SQLITE_PREPARE_PERSISTENT, &db->statements[id],
                           NULL) != SQLITE_OK) {
        log_db_error(db, "preparing a statement");
        db->statements[id] = NULL;
    }
    return db->statements[id];
}

/* Makes a cached statement ready for its next use. */
static void release(sqlite3_stmt *stmt)
{
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
}

static void bind_scope(sqlite3_stmt *stmt, const sqlite_store *store,
                       const char *user)
{
    sqlite3_bind_text(stmt, 1, store->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, store->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, user, -1, SQLITE_STATIC);
}

/* A zero-length blob binds as a blob, not as NULL, so an empty value is
 * still a value. */
static void bind_value(sqlite3_stmt *stmt, int index, const void *data,
                       size_t len)
{
    static const char empty[1];
    sqlite3_bind_blob64(stmt, index, len ? data : empty, len, SQLITE_STATIC);
}

/* Runs a statement that returns no rows.  SQLITE_DONE or the error. */
static int run(sqlite_db *db, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        log_db_error(db, what);
    release(stmt);
    return rc;
}

/* A malloc'd copy of a blob column; sqlite gives NULL for an empty blob,
 * and callers want a non-NULL pointer for any value that exists. */
static void *column_copy(sqlite3_stmt *stmt, int column, size_t *len)
{
    const void *data = sqlite3_column_blob(stmt, column);
    size_t n = (size_t)sqlite3_column_bytes(stmt, column);
    void *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    if (n > 0)
        memcpy(copy, data, n);
    ((char *)copy)[n] = '\0';
    *len = n;
    return copy;
}

/* ---- opening the database ---- */

/* mkdir -p with mode 0700 for the directory that will hold the file. */
static int make_parent_dirs(const char *path)
{
    char *dir = strdup(path);
    if (dir == NULL)
        return -1;
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        free(dir);
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            api->log(self, MYNAH_LOG_ERROR, "cannot create directory %s: %s",
                     dir, strerror(errno));
            free(dir);
            return -1;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(dir);
    return 0;
}

/* Creates the file with mode 0600 before SQLite does (it would use 0644);
 * SQLite gives the -wal and -shm files the same mode as the database. */
static int create_private_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        api->log(self, MYNAH_LOG_ERROR, "cannot open %s: %s", path,
                 strerror(errno));
        return -1;
    }
    close(fd);
    return 0;
}

static int exec(sqlite_db *db, const char *sql, const char *what)
{
    char *message = NULL;
    if (sqlite3_exec(db->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        api->log(self, MYNAH_LOG_ERROR, "%s: %s (%s)", what,
                 message ? message : sqlite3_errmsg(db->db), db->path);
        sqlite3_free(message);
        return -1;
    }
    return 0;
}

static int pragma_integer(sqlite_db *db, const char *sql, long long *out)
{
    sqlite3_stmt *stmt = NULL;
    int ok = sqlite3_prepare_v2(db->db, sql, -1, &stmt, NULL) == SQLITE_OK &&
             sqlite3_step(stmt) == SQLITE_ROW;
    if (ok)
        *out = sqlite3_column_int64(stmt, 0);
    else
        log_db_error(db, sql);
    sqlite3_finalize(stmt);
    return ok ? 0 : -1;
}

static int enable_wal(sqlite_db *db)
{
    sqlite3_stmt *stmt = NULL;
    int ok = sqlite3_prepare_v2(db->db, "PRAGMA journal_mode=WAL", -1, &stmt,
                                NULL) == SQLITE_OK &&
             sqlite3_step(stmt) == SQLITE_ROW;
    const unsigned char *mode = ok ? sqlite3_column_text(stmt, 0) : NULL;
    ok = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    if (!ok)
        api->log(self, MYNAH_LOG_ERROR, "cannot enable WAL mode on %s: %s",
                 db->path, mode ? (const char *)mode : sqlite3_errmsg(db->db));
    sqlite3_finalize(stmt);
    return ok ? 0 : -1;
}

/* Brings the schema to SCHEMA_VERSION in one transaction.  A database
 * written by a newer mynah is refused rather than guessed at. */
static int migrate(sqlite_db *db)
{
    if (exec(db, "BEGIN IMMEDIATE", "starting the schema migration") < 0)
        return -1;
    long long version = 0;
    if (pragma_integer(db, "PRAGMA user_version", &version) < 0)
        goto fail;
    if (version > SCHEMA_VERSION) {
        api->log(self, MYNAH_LOG_ERROR,
                 "%s has schema version %lld, newer than this mynah "
                 "understands (%d): refusing to use it",
                 db->path, version, SCHEMA_VERSION);
        goto fail;
    }
    for (int v = (int)version + 1; v <= SCHEMA_VERSION; v++) {
        char set_version[48];
        snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d",
                 v);
        if (exec(db, migrations[v - 1], "migrating the schema") < 0 ||
            exec(db, set_version, "recording the schema version") < 0)
            goto fail;
        api->log(self, MYNAH_LOG_INFO, "%s: schema migrated to version %d",
                 db->path, v);
    }
    if (exec(db, "COMMIT", "committing the schema migration") < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static void db_close(sqlite_db *db)
{
    if (db == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(db->statements[i]);
    if (db->db != NULL && sqlite3_close(db->db) != SQLITE_OK)
        log_db_error(db, "closing the database");
    free(db->path);
    free(db);
}

static char *database_path(void)
{
    const char *file = api->option_string(self, NULL, "sqlite_file");
    if (file == NULL || file[0] == '\0')
        file = DEFAULT_FILE;
    if (file[0] == '/')
        return strdup(file);
    const char *dir = api->data_path();
    if (dir == NULL || dir[0] == '\0') {
        api->log(self, MYNAH_LOG_ERROR,
                 "no data_path is set: cannot place %s", file);
        return NULL;
    }
    size_t len = strlen(dir) + 1 + strlen(file) + 1;
    char *path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s/%s", dir, file);
    return path;
}

static sqlite_db *db_open(void)
{
    sqlite_db *db = calloc(1, sizeof *db);
    if (db == NULL)
        return NULL;
    db->path = database_path();
    if (db->path == NULL || make_parent_dirs(db->path) < 0 ||
        create_private_file(db->path) < 0)
        goto fail;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                SQLITE_OPEN_NOMUTEX; /* the server has one thread */
    if (sqlite3_open_v2(db->path, &db->db, flags, NULL) != SQLITE_OK) {
        log_db_error(db, "opening the database");
        goto fail;
    }
    sqlite3_extended_result_codes(db->db, 1);
    sqlite3_busy_timeout(db->db, BUSY_TIMEOUT_MS);
    /* WAL: readers never block the writer (mynahctl and the server share
     * the file).  synchronous=FULL: each commit fsyncs the WAL before the
     * callback says OK, so an acknowledged write survives a power loss,
     * not only a crash. */
    if (enable_wal(db) < 0 ||
        exec(db, "PRAGMA synchronous=FULL", "setting synchronous") < 0 ||
        exec(db, "PRAGMA foreign_keys=OFF", "setting foreign_keys") < 0 ||
        migrate(db) < 0)
        goto fail;
    return db;
fail:
    db_close(db);
    return NULL;
}

/* ---- stores ---- */

static void *store_open(void *driver_data, const char *host,
                        const char *name, enum mynah_store_kind kind)
{
    sqlite_store *store = calloc(1, sizeof *store);
    if (store == NULL)
        return NULL;
    store->db = driver_data;
    store->host = strdup(host);
    store->name = strdup(name);
    store->kind = kind;
    if (store->host == NULL || store->name == NULL) {
        free(store->host);
        free(store->name);
        free(store);
        return NULL;
    }
    return store;
}

static void store_close(void *handle)
{
    sqlite_store *store = handle;
    free(store->host);
    free(store->name);
    free(store);
}

/* Runs a single-value SELECT (keyval_get, map_get) and calls back with a
 * copy of the value, after the statement is reset. */
static void get_value(sqlite_store *store, sqlite3_stmt *stmt,
                      mynah_store_value_cb cb, void *userdata)
{
    int rc = sqlite3_step(stmt);
    void *value = NULL;
    size_t len = 0;
    int status = MYNAH_STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        value = column_copy(stmt, 0, &len);
        status = value ? MYNAH_STORE_OK : MYNAH_STORE_ERROR;
    } else if (rc != SQLITE_DONE) {
        log_db_error(store->db, "reading a value");
        status = MYNAH_STORE_ERROR;
    }
    release(stmt);
    cb(status, value, len, userdata);
    free(value);
}

static void keyval_get(void *handle, const char *user,
                       mynah_store_value_cb cb, void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt = statement(store->db, ST_KEYVAL_GET);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, 0, userdata);
        return;
    }
    bind_scope(stmt, store, user);
    get_value(store, stmt, cb, userdata);
}

static void keyval_set(void *handle, const char *user, const void *data,
                       size_t len, mynah_store_done_cb cb, void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt =
        statement(store->db, data ? ST_KEYVAL_SET : ST_KEYVAL_DELETE);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    bind_scope(stmt, store, user);
    if (data != NULL)
        bind_value(stmt, 4, data, len);
    int rc = run(store->db, stmt, "writing a value");
    cb(rc == SQLITE_DONE ? MYNAH_STORE_OK : MYNAH_STORE_ERROR, userdata);
}

static void map_get(void *handle, const char *user, const char *key,
                    mynah_store_value_cb cb, void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt = statement(store->db, ST_MAP_GET);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, 0, userdata);
        return;
    }
    bind_scope(stmt, store, user);
    sqlite3_bind_text(stmt, 4, key, -1, SQLITE_STATIC);
    get_value(store, stmt, cb, userdata);
}

static void map_set(void *handle, const char *user, const char *key,
                    const void *data, size_t len, mynah_store_done_cb cb,
                    void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt =
        statement(store->db, data ? ST_MAP_SET : ST_MAP_DELETE);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    bind_scope(stmt, store, user);
    sqlite3_bind_text(stmt, 4, key, -1, SQLITE_STATIC);
    if (data != NULL)
        bind_value(stmt, 5, data, len);
    int rc = run(store->db, stmt, "writing a map entry");
    cb(rc == SQLITE_DONE ? MYNAH_STORE_OK : MYNAH_STORE_ERROR, userdata);
}

/* Rows of (text, optional blob) collected for a list callback. */
typedef struct string_rows {
    char **keys;
    void **values;
    size_t *lens;
    size_t count, cap;
} string_rows;

static void rows_free(string_rows *rows)
{
    for (size_t i = 0; i < rows->count; i++) {
        free(rows->keys[i]);
        if (rows->values != NULL)
            free(rows->values[i]);
    }
    free(rows->keys);
    free(rows->values);
    free(rows->lens);
}

/* Steps through a statement returning (text[, blob]) rows.  0 or -1. */
static int rows_collect(sqlite_db *db, sqlite3_stmt *stmt, int with_values,
                        string_rows *rows)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (rows->count == rows->cap) {
            size_t cap = rows->cap ? rows->cap * 2 : 16;
            char **keys = realloc(rows->keys, cap * sizeof *keys);
            if (keys == NULL)
                return -1;
            rows->keys = keys;
            if (with_values) {
                void **values = realloc(rows->values, cap * sizeof *values);
                if (values == NULL)
                    return -1;
                rows->values = values;
                size_t *lens = realloc(rows->lens, cap * sizeof *lens);
                if (lens == NULL)
                    return -1;
                rows->lens = lens;
            }
            rows->cap = cap;
        }
        const char *key = (const char *)sqlite3_column_text(stmt, 0);
        char *key_copy = strdup(key ? key : "");
        void *value = NULL;
        if (key_copy != NULL && with_values) {
            value = column_copy(stmt, 1, &rows->lens[rows->count]);
            if (value == NULL) {
                free(key_copy);
                key_copy = NULL;
            }
        }
        if (key_copy == NULL)
            return -1;
        rows->keys[rows->count] = key_copy;
        if (with_values)
            rows->values[rows->count] = value;
        rows->count++;
    }
    if (rc != SQLITE_DONE) {
        log_db_error(db, "listing");
        return -1;
    }
    return 0;
}

static void list_rows(sqlite_db *db, sqlite3_stmt *stmt, int with_values,
                      mynah_map_list_cb cb, void *userdata)
{
    string_rows rows = {0};
    int rc = rows_collect(db, stmt, with_values, &rows);
    release(stmt);
    if (rc < 0)
        cb(MYNAH_STORE_ERROR, NULL, NULL, NULL, 0, userdata);
    else
        cb(MYNAH_STORE_OK, (const char *const *)rows.keys,
           (const void *const *)rows.values, rows.lens, rows.count,
           userdata);
    rows_free(&rows);
}

static void map_list(void *handle, const char *user, mynah_map_list_cb cb,
                     void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt = statement(store->db, ST_MAP_LIST);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, NULL, NULL, 0, userdata);
        return;
    }
    bind_scope(stmt, store, user);
    list_rows(store->db, stmt, 1, cb, userdata);
}

static void keyval_users(void *handle, mynah_map_list_cb cb, void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt = statement(store->db, ST_KEYVAL_USERS);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, NULL, NULL, 0, userdata);
        return;
    }
    sqlite3_bind_text(stmt, 1, store->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, store->name, -1, SQLITE_STATIC);
    list_rows(store->db, stmt, 0, cb, userdata);
}

/* ---- archives ---- */

static void archive_append(void *handle, const char *user,
                           const mynah_archive_item *item,
                           mynah_store_id_cb cb, void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt = statement(store->db, ST_ARCHIVE_APPEND);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, userdata);
        return;
    }
    bind_scope(stmt, store, user);
    sqlite3_bind_int64(stmt, 4, item->when);
    if (item->with != NULL)
        sqlite3_bind_text(stmt, 5, item->with, -1, SQLITE_STATIC);
    bind_value(stmt, 6, item->data, item->len);
    if (run(store->db, stmt, "appending to an archive") != SQLITE_DONE) {
        cb(MYNAH_STORE_ERROR, NULL, userdata);
        return;
    }
    char id[24];
    snprintf(id, sizeof id, "%lld",
             (long long)sqlite3_last_insert_rowid(store->db->db));
    cb(MYNAH_STORE_OK, id, userdata);
}

/* An id as the driver hands them out: a positive decimal rowid. */
static int parse_id(const char *text, sqlite3_int64 *out)
{
    if (text == NULL || text[0] < '1' || text[0] > '9')
        return -1;
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = value;
    return 0;
}

/* The (when_us, id) position of an item of this user's archive.
 * MYNAH_STORE_OK, NOT_FOUND (no such item here), or ERROR. */
static int archive_position(sqlite_store *store, const char *user,
                            const char *id_text, sqlite3_int64 *when,
                            sqlite3_int64 *id)
{
    if (parse_id(id_text, id) < 0)
        return MYNAH_STORE_NOT_FOUND;
    sqlite3_stmt *stmt = statement(store->db, ST_ARCHIVE_POSITION);
    if (stmt == NULL)
        return MYNAH_STORE_ERROR;
    bind_scope(stmt, store, user);
    sqlite3_bind_int64(stmt, 4, *id);
    int rc = sqlite3_step(stmt);
    int status = MYNAH_STORE_NOT_FOUND;
    if (rc == SQLITE_ROW) {
        *when = sqlite3_column_int64(stmt, 0);
        status = MYNAH_STORE_OK;
    } else if (rc != SQLITE_DONE) {
        log_db_error(store->db, "looking up an archive id");
        status = MYNAH_STORE_ERROR;
    }
    release(stmt);
    return status;
}

/* Binds ?1..?10 of ARCHIVE_WHERE.  Returns a store status: NOT_FOUND when a
 * paging id is not in this archive (XEP-0059 wants item-not-found). */
static int bind_query(sqlite_store *store, sqlite3_stmt *stmt,
                      const char *user, const mynah_archive_query *query)
{
    sqlite3_int64 after_when = INT64_MIN, after_id = INT64_MIN;
    sqlite3_int64 before_when = INT64_MAX, before_id = INT64_MAX;
    int status;
    if (query->after_id != NULL &&
        (status = archive_position(store, user, query->after_id, &after_when,
                                   &after_id)) != MYNAH_STORE_OK)
        return status;
    if (query->before_id != NULL &&
        (status = archive_position(store, user, query->before_id,
                                   &before_when, &before_id)) !=
            MYNAH_STORE_OK)
        return status;
    bind_scope(stmt, store, user);
    sqlite3_bind_int64(stmt, 4, query->start ? query->start : INT64_MIN);
    sqlite3_bind_int64(stmt, 5, query->end ? query->end : INT64_MAX);
    sqlite3_bind_int64(stmt, 6, after_when);
    sqlite3_bind_int64(stmt, 7, after_id);
    sqlite3_bind_int64(stmt, 8, before_when);
    sqlite3_bind_int64(stmt, 9, before_id);
    if (query->with != NULL)
        sqlite3_bind_text(stmt, 10, query->with, -1, SQLITE_STATIC);
    return MYNAH_STORE_OK;
}

typedef struct archive_rows {
    mynah_archive_item *items;
    size_t count, cap;
} archive_rows;

static void archive_rows_free(archive_rows *rows)
{
    for (size_t i = 0; i < rows->count; i++) {
        free((char *)rows->items[i].id);
        free((char *)rows->items[i].with);
        free((void *)rows->items[i].data);
    }
    free(rows->items);
}

static int archive_row_add(archive_rows *rows, sqlite3_stmt *stmt)
{
    if (rows->count == rows->cap) {
        size_t cap = rows->cap ? rows->cap * 2 : 16;
        mynah_archive_item *items =
            realloc(rows->items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        rows->items = items;
        rows->cap = cap;
    }
    mynah_archive_item *item = &rows->items[rows->count];
    memset(item, 0, sizeof *item);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)sqlite3_column_int64(stmt, 0));
    item->when = sqlite3_column_int64(stmt, 1);
    const char *with = (const char *)sqlite3_column_text(stmt, 2);
    char *id_copy = strdup(id);
    char *with_copy = with ? strdup(with) : NULL;
    void *data = column_copy(stmt, 3, &item->len);
    if (id_copy == NULL || (with != NULL && with_copy == NULL) ||
        data == NULL) {
        free(id_copy);
        free(with_copy);
        free(data);
        return -1;
    }
    item->id = id_copy;
    item->with = with_copy;
    item->data = data;
    rows->count++;
    return 0;
}

static void archive_find(void *handle, const char *user,
                         const mynah_archive_query *query, mynah_archive_cb cb,
                         void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt = statement(
        store->db, query->reverse ? ST_ARCHIVE_FIND_REVERSE : ST_ARCHIVE_FIND);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, NULL, 0, 0, userdata);
        return;
    }
    int status = bind_query(store, stmt, user, query);
    if (status != MYNAH_STORE_OK) {
        release(stmt);
        cb(status, NULL, 0, 0, userdata);
        return;
    }
    /* One row more than asked for tells whether the range is complete. */
    sqlite3_int64 limit = -1;
    if (query->max > 0)
        limit = query->max < (size_t)INT64_MAX ? (sqlite3_int64)query->max + 1
                                               : INT64_MAX;
    sqlite3_bind_int64(stmt, 11, limit);

    archive_rows rows = {0};
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (archive_row_add(&rows, stmt) < 0)
            break;
    if (rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW)
            log_db_error(store->db, "querying an archive");
        release(stmt);
        archive_rows_free(&rows);
        cb(MYNAH_STORE_ERROR, NULL, 0, 0, userdata);
        return;
    }
    release(stmt);
    int complete = 1;
    if (query->max > 0 && rows.count > query->max) {
        complete = 0;
        rows.count--;
        free((char *)rows.items[rows.count].id);
        free((char *)rows.items[rows.count].with);
        free((void *)rows.items[rows.count].data);
    }
    cb(MYNAH_STORE_OK, rows.items, rows.count, complete, userdata);
    archive_rows_free(&rows);
}

static void archive_delete(void *handle, const char *user,
                           const mynah_archive_query *query,
                           mynah_store_done_cb cb, void *userdata)
{
    sqlite_store *store = handle;
    sqlite3_stmt *stmt = statement(store->db, ST_ARCHIVE_DELETE);
    if (stmt == NULL) {
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    int status = bind_query(store, stmt, user, query);
    if (status != MYNAH_STORE_OK) {
        release(stmt);
        cb(status, userdata);
        return;
    }
    int rc = run(store->db, stmt, "deleting from an archive");
    cb(rc == SQLITE_DONE ? MYNAH_STORE_OK : MYNAH_STORE_ERROR, userdata);
}

/* ---- purging a user ---- */

static int run_cached(sqlite_db *db, enum statement_id id, const char *what)
{
    sqlite3_stmt *stmt = statement(db, id);
    return stmt != NULL && run(db, stmt, what) == SQLITE_DONE ? 0 : -1;
}

static void purge_user(void *driver_data, const char *host, const char *user,
                       mynah_store_done_cb cb, void *userdata)
{
    sqlite_db *db = driver_data;
    static const enum statement_id purges[] = {ST_PURGE_KEYVAL, ST_PURGE_MAP,
                                               ST_PURGE_ARCHIVE};
    if (run_cached(db, ST_BEGIN, "starting a purge") < 0) {
        cb(MYNAH_STORE_ERROR, userdata);
        return;
    }
    int ok = 1;
    for (size_t i = 0; ok && i < sizeof purges / sizeof purges[0]; i++) {
        sqlite3_stmt *stmt = statement(db, purges[i]);
        if (stmt == NULL) {
            ok = 0;
            break;
        }
        sqlite3_bind_text(stmt, 1, host, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, user, -1, SQLITE_STATIC);
        ok = run(db, stmt, "purging a user") == SQLITE_DONE;
    }
    if (ok)
        ok = run_cached(db, ST_COMMIT, "committing a purge") == 0;
    if (!ok)
        run_cached(db, ST_ROLLBACK, "rolling back a purge");
    else
        api->log(self, MYNAH_LOG_INFO, "purged user '%s' on '%s'", user, host);
    cb(ok ? MYNAH_STORE_OK : MYNAH_STORE_ERROR, userdata);
}

/* ---- the module ---- */

static const mynah_storage_driver sqlite_driver = {
    .size = sizeof(mynah_storage_driver),
    .name = "sqlite",
    .open = store_open,
    .close = store_close,
    .keyval_get = keyval_get,
    .keyval_set = keyval_set,
    .map_get = map_get,
    .map_set = map_set,
    .map_list = map_list,
    .archive_append = archive_append,
    .archive_find = archive_find,
    .archive_delete = archive_delete,
    .purge_user = purge_user,
    .keyval_users = keyval_users,
};

static sqlite_db *database;

static int storage_sqlite_init(mynah_module *module, const mynah_api *core)
{
    api = core;
    self = module;
    database = db_open();
    if (database == NULL)
        return -1;
    if (api->provide_storage(module, &sqlite_driver, database) != 0) {
        db_close(database);
        database = NULL;
        return -1;
    }
    api->log(self, MYNAH_LOG_INFO, "using %s (schema version %d)",
             database->path, SCHEMA_VERSION);
    return 0;
}

static void storage_sqlite_fini(mynah_module *module)
{
    (void)module;
    db_close(database);
    database = NULL;
}

static const mynah_option_spec options[] = {
    {"sqlite_file", MYNAH_OPTION_STRING, DEFAULT_FILE, 1, 4096, 0,
     "the SQLite database file, relative to data_path"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "storage_sqlite",
    .version = "0.1.0",
    .depends = NULL,
    .options = options,
    .init = storage_sqlite_init,
    .fini = storage_sqlite_fini,
};
