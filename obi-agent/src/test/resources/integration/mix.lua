-- wrk script: a keep-alive mix of routes and response framings behind nginx.
-- No HEAD here: wrk would wait for a body that never comes (the test sends HEAD with curl).
-- Built in init(): at load time wrk.headers has no Host yet, and HTTP/1.1 without Host is a 400.
local requests
init = function(args)
  requests = {
    wrk.format("GET", "/jdk/fast"),
    wrk.format("GET", "/jdk/users/1234"),
    wrk.format("GET", "/jdk/users/98765"),
    wrk.format("GET", "/jdk/size?bytes=100000"),
    wrk.format("GET", "/jdk/chunked?chunks=4"),
    wrk.format("GET", "/jdk/status?code=204"),
    wrk.format("GET", "/jdk/status?code=304"),
    wrk.format("GET", "/jdk/status?code=404"),
    wrk.format("GET", "/jdk/status?code=500"),
    wrk.format("GET", "/py/fast"),
    wrk.format("GET", "/py/status?code=503"),
    wrk.format("GET", "/static/file.bin"),
    wrk.format("GET", "/local"),
  }
end
local i = 0
request = function()
  i = i % #requests + 1
  return requests[i]
end
