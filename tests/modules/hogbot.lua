-- A bot that eats memory when told to "eat" (tests/integration/
-- test_lua_safety.py runs it under a small lua_bot_memory_limit).
return {
    on_message = function(bot, message)
        -- the first word: mod_test_lua, enabled next to it, adds a suffix
        local body = (message:get_child_text("body") or ""):match("^%a*")
        if body == "eat" then
            local t = {}
            for i = 1, 1e8 do t[i] = ("x"):rep(100) .. i end
        elseif body == "size" then
            bot:reply(message, "ok " .. collectgarbage("count"))
        end
    end,
}
