// Preloaded into the Prism proxy by scripts/contract.sh (NODE_OPTIONS=--require ...).
//
// Prism's HTTP server (@stoplight/prism-http-server, dist/server.js) reads an application/json
// request body with micri's json(), which throws on a body that is not JSON; micri then answers
// the request itself, 400 application/json {"error":{"code":"invalid_json",...}}, and the request
// never reaches Custos. The suites send such bodies on purpose ("{", truncated JSON) and expect
// the server's own answer (400 application/problem+json), so through a plain Prism they failed.
//
// This hook gives prism-http-server a micri whose json() parses like micri's but hands back the
// body's text when it is not JSON: Prism logs the request violation (a string where the contract
// wants an object) and forwards the text unchanged (its forwarder sends a string body as is), so
// the server answers and Prism validates that answer against the contract. Nothing else changes;
// in any other node process (or for any other module) the hook does nothing.
'use strict';
const Module = require('module');
const load = Module._load;
let wrapped;
Module._load = function (request, parent, isMain) {
    const m = load.apply(this, arguments);
    if (request !== 'micri' || !parent || !/prism-http-server/.test(parent.filename || '')) {
        return m;
    }
    if (!wrapped) {
        wrapped = Object.assign({}, m, {
            json: async (req, opts) => {
                const text = await m.text(req, opts);
                try {
                    return JSON.parse(text);
                } catch (e) {
                    return text;
                }
            },
        });
    }
    return wrapped;
};
