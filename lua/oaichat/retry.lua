--- When and how long to wait before another attempt (as the OpenAI SDKs do).
local M = {}

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
  Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Seconds since the epoch of an IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT"), or nil.
function M.parse_http_date(s)
  local d, mon, y, hh, mm, ss = s:match("^%a+, (%d+) (%a+) (%d+) (%d+):(%d+):(%d+) GMT$")
  if not d or not MONTHS[mon] then return nil end
  return days_from_civil(tonumber(y), MONTHS[mon], tonumber(d)) * 86400
    + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
end

--- The delay in seconds before retry number n (0 for the first retry).
function M.delay(headers, n, now)
  headers = headers or {}
  local ms = tonumber(headers["retry-after-ms"])
  if ms and ms >= 0 and ms <= 60000 then return ms / 1000 end
  local ra = headers["retry-after"]
  if ra then
    local secs = tonumber(ra)
    if not secs then
      local at = M.parse_http_date(ra)
      if at then secs = at - (now or os.time()) end
    end
    if secs and secs >= 0 and secs <= 60 then return secs end
  end
  return math.min(0.5 * 2 ^ n, 8) * (1 - 0.25 * math.random())
end

return M
