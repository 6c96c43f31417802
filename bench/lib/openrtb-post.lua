-- wrk script: POST the committed OpenRTB bid request fixture on every request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BODY_FILE") or "fixtures/requests/01-banner-300x250-site.json", "rb"))
wrk.body = f:read("*a")
f:close()
