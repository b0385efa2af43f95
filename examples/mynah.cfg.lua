-- mynah example configuration.  The syntax is Prosody's: Lua assignments,
-- VirtualHost and Component sections.  `mynahctl -c FILE check` reports
-- unknown options and type errors with their line.  Relative paths are
-- relative to this file's directory.

-- Where to listen.  "*" is every IPv4 address, "::" every IPv6 one.
interfaces = { "*", "::" }
c2s_ports = { 5222 }              -- STARTTLS
c2s_direct_tls_ports = { 5223 }   -- TLS from the first byte (XEP-0368)

-- TLS.  Without a certificate, mynahd makes a self-signed one per host
-- under data_path/certs on first start.
-- ssl = { certificate = "certs/example.org.crt", key = "certs/example.org.key" }
-- tls_priority = "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

c2s_require_encryption = true     -- no authentication without TLS
allow_unencrypted_plain_auth = false

-- Limits (bytes, seconds).
c2s_stanza_size_limit = 262144
c2s_preauth_stanza_size_limit = 10000
c2s_timeout = 60                  -- to finish logging in
conflict_resolve = "kick_old"     -- a second login with the same resource replaces the first

-- Files.
data_path = "data"                -- database, generated certificates, control socket
storage = "sqlite"
log = { info = "mynahd.log" }     -- or "*console"
pidfile = "mynahd.pid"

admins = { "admin@example.org" }
-- plugin_paths = { "/usr/local/lib/mynah/modules" }

-- Modules for every VirtualHost (doc/modules-im.md).  A name resolves to
-- mod_NAME.so, or mod_NAME.lua / NAME.lua (Lua modules and bots).
modules_enabled = {
    "roster", "presence", "disco", "offline", "ping", "version", "time",
    "last", "blocking", "vcard", "private",
    -- "register",   -- in-band registration; also set allow_registration
    -- "motd",       -- a welcome message (Lua); motd_text = "..."
    -- "sensordata", "iot_control",   -- IoT (doc/iot.md)
}
allow_registration = false

VirtualHost "example.org"
    -- ssl = { certificate = "certs/example.org.crt", key = "certs/example.org.key" }

-- Multi-user chat (doc/muc.md)
Component "rooms.example.org" "muc"

-- Things (doc/iot.md)
-- Component "discovery.example.org" "iot_discovery"
-- Component "provisioning.example.org" "iot_provisioning"
