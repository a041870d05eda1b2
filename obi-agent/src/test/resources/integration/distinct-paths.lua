-- wrk script for ExposureIT: each request a path never requested before, numbered from the first to
-- the last argument (wrk ... -- FIRST LAST), letters only so that no segment looks like an id the
-- route normaliser would fold; then wrk exits (its own -d would otherwise keep it running).
local letters = "abcdefghijklmnopqrstuvwxyz"
local n, last

init = function(args)
  n = tonumber(args[1]) - 1
  last = tonumber(args[2])
end

request = function()
  n = n + 1
  local x, name = n, ""
  repeat
    local d = x % 26
    name = name .. letters:sub(d + 1, d + 1)
    x = math.floor(x / 26)
  until x == 0
  return wrk.format("GET", "/static/routes/" .. name)
end

response = function()
  if n >= last then
    os.exit(0)
  end
end
