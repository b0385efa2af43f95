-- A bot whose handler waits for a deferred store (see mod_test_lua_async).
local store

return {
    on_start = function(bot)
        store = bot:open_store("deferred_bot", "keyval")
    end,
    on_message = function(bot, message)
        local body = message:get_child_text("body")
        assert(store:set("seen", body))
        bot:log("info", "waitbot handled %s after waiting for %s", body, store:get("seen"))
    end,
}
