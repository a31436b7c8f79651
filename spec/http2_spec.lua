-- HTTP/2: against a server that offers it (nginx with TLS and ALPN on
-- 127.0.0.1), a client's concurrent requests share one multiplexed
-- connection. nginx's access log records each request's protocol and
-- connection serial number.
local oaichat = require("oaichat")
local core = require("oaichat.core")
local tls = require("spec.support.tls")
local socket = require("socket")

local COMPLETION = '{"id":"chatcmpl-h2","object":"chat.completion","created":1,"model":"m",'
  .. '"choices":[{"index":0,"message":{"role":"assistant","content":"over h2"},'
  .. '"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}'

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function read_lines(path)
  local lines = {}
  local f = io.open(path, "r")
  if not f then return lines end
  for line in f:lines() do lines[#lines + 1] = line end
  f:close()
  return lines
end

-- Starts nginx (foreground, in the background of a shell) with TLS and
-- HTTP/2 on a free loopback port; returns {port, dir, log, pid}.
local function start_nginx(certs)
  local dir, port = certs.dir, free_port()
  write_file(dir .. "/nginx.conf", ([[
worker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 64; }
http {
  log_format h2 '$connection $server_protocol $request_method $request_uri';
  access_log %s/access.log h2;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  fastcgi_temp_path %s/fastcgi;
  uwsgi_temp_path %s/uwsgi;
  scgi_temp_path %s/scgi;
  server {
    listen 127.0.0.1:%d ssl http2;
    ssl_certificate %s;
    ssl_certificate_key %s;
    location /v1/chat/completions {
      default_type application/json;
      return 200 '%s';
    }
  }
}
]]):format(dir, dir, dir, dir, dir, dir, dir, dir, port, certs.cert, certs.key, COMPLETION))
  local p = io.popen(("nginx -p %s -c %s/nginx.conf >/dev/null 2>&1 & echo $!"):format(dir, dir))
  local pid = tonumber(p:read("*l"))
  p:close()
  local t0 = core.now()
  repeat
    local c = socket.tcp()
    c:settimeout(0.1)
    local ok = c:connect("127.0.0.1", port)
    c:close()
    if ok then return { port = port, dir = dir, log = dir .. "/access.log", pid = pid } end
    core.sleep(0.02)
  until core.now() - t0 > 30 -- generous: a loaded machine starts nginx slowly
  error("nginx did not start: " .. table.concat(read_lines(dir .. "/error.log"), "\n"))
end

describe("HTTP/2", function()
  local certs, nginx

  setup(function()
    assert.is_true(core.has_http2, "this libcurl has no HTTP/2")
    certs = tls.make_certs()
    nginx = start_nginx(certs)
  end)

  teardown(function()
    if nginx then os.execute("kill " .. nginx.pid .. " 2>/dev/null") end
    core.sleep(0.1)
    tls.remove_certs(certs)
  end)

  it("multiplexes concurrent requests over one connection when the server offers it", function()
    local client = oaichat.new { base_url = ("https://127.0.0.1:%d/v1"):format(nginx.port),
      api_key = "sk-h2", ca_file = certs.ca_file }
    local list = {}
    for i = 1, 12 do list[i] = { "question " .. i } end
    local results = client:chat_many(list, { concurrency = 12 })
    for i = 1, 12 do assert.equal("over h2", oaichat.text(results[i]), tostring(results[i].error)) end
    local resp = assert(client:chat("one more"))
    assert.equal("over h2", oaichat.text(resp))
    client:close()
    -- nginx writes its log line after the response: wait for all 13 (a
    -- fixed nap raced a loaded machine).
    for _ = 1, 1000 do
      if #read_lines(nginx.log) >= 13 then break end
      core.sleep(0.01)
    end
    local conns, n = {}, 0
    for _, line in ipairs(read_lines(nginx.log)) do
      local conn, proto, method, uri = line:match("^(%d+) (%S+) (%S+) (%S+)$")
      assert.equal("HTTP/2.0", proto)
      assert.equal("POST", method)
      assert.equal("/v1/chat/completions", uri)
      if not conns[conn] then n = n + 1 end
      conns[conn] = true
    end
    assert.equal(13, #read_lines(nginx.log))
    assert.equal(1, n)
  end)
end)
