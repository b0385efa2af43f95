-- Lua code that has to wait for storage: with storage = "test_async"
-- (tests/modules/mod_storage_test_async.c), stores named deferred_* answer
-- from the event loop.  Reports what happened in the log, which
-- tests/integration/test_lua_storage.py reads.
local st = require "mynah.stanza"

local kv = module:open_store("deferred_kv", "keyval")
local map = module:open_store("deferred_map", "map")

-- The top level cannot wait.
local ok, err = pcall(kv.get, kv, "nobody")
module:log("info", "top level: %s", ok and "did not wait" or err)

-- A handler that waits (ASYNC), fired from the timer below.
module:hook("test/wait", function(event)
    assert(kv:set("hook", "from a hook"))
    module:log("info", "hook waited: %s", kv:get("hook"))
    return true
end)

module:add_timer(0, function()
    assert(kv:set("u", { n = 1 }))
    local v = kv:get("u")
    assert(map:set("u", "k", "v"))
    local all = map:list("u")
    module:log("info", "deferred storage: %d %s %s", v.n, map:get("u", "k"), all.k)
    module:log("info", "fired: %s", tostring(module:fire_event("test/wait",
        st.message({ to = module.host }))))
    -- two messages for the bot, which must handle them in order
    for _, word in ipairs({ "one", "two" }) do
        module:send(st.message({ to = "waitbot@" .. module.host, type = "chat" }, word))
    end
end)
