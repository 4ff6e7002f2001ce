-- POST a small JSON body (about 100 bytes) to the trivial server's /echo.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"records":[{"subject_id":"subject-000001","fields":{"name":"Ada Lovelace","phone":"+15550000001"}}]}'
