-- wrk script: POST a body of $BENCH_POST_SIZE bytes (default 16384) to /echo;
-- the app answers the length it read.  Reports like report.lua (loaded from this folder).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local size = tonumber(os.getenv("BENCH_POST_SIZE") or "16384")
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = string.rep("p", size)
wrk.headers["Content-Type"] = "application/octet-stream"
