// Prints, as one JSON object, what the real GramJS (npm `telegram` 2.26.22) reads from a
// StringSession: the same keys as read_session.py. Offline; the key itself is never printed.
// Needs NODE_PATH pointing at a node_modules folder holding telegram@2.26.22.
// Usage: node read_gramjs.js <file holding the string> [<file holding the expected key, hex>]
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const { StringSession } = require("telegram/sessions");

(async () => {
    const s = new StringSession(fs.readFileSync(process.argv[2], "ascii").trim());
    await s.load();
    const key = s.getAuthKey();
    const bytes = key ? key.getKey() : null;
    const sha = (b) => (b ? crypto.createHash("sha256").update(b).digest("hex") : null);
    const out = {
        library: "gramjs " + require("telegram/package.json").version,
        dc_id: s.dcId,
        address: s.serverAddress,
        port: s.port,
        auth_key_sha256: sha(bytes),
        user_id: null,
        is_bot: null,
        test_mode: null,
    };
    if (process.argv[3]) {
        const want = Buffer.from(fs.readFileSync(process.argv[3], "ascii").trim(), "hex");
        out.auth_key_matches = out.auth_key_sha256 === sha(want);
    }
    process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
