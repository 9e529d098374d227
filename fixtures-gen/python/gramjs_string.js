// Builds GramJS StringSession fixtures with the real GramJS library (npm package `telegram`)
// and reads them back with it. Called by generate.py (target `gramjs`); prints one JSON object.
// Needs NODE_PATH pointing at a node_modules folder holding telegram@2.26.22.
// Usage: node gramjs_string.js '<json params>'
"use strict";
const { StringSession } = require("telegram/sessions");
const { AuthKey } = require("telegram/crypto/AuthKey");

async function build(dcId, address, port, key) {
    const s = new StringSession("");
    s.setDC(dcId, address, port);
    const ak = new AuthKey();
    await ak.setKey(key);
    s.setAuthKey(ak);
    return s.save();
}

async function readBack(str) {
    const s = new StringSession(str);
    await s.load();
    const key = s.getAuthKey();
    return {
        dc_id: s.dcId,
        server_address: s.serverAddress,
        port: s.port,
        auth_key_hex: key ? Buffer.from(key.getKey()).toString("hex") : null,
    };
}

(async () => {
    const p = JSON.parse(process.argv[2]);
    const key = Buffer.from(p.auth_key_hex, "hex");
    const out = { gramjs_version: require("telegram/package.json").version, strings: {}, readback: {} };
    for (const [name, addr] of Object.entries(p.addresses)) {
        const str = await build(p.dc_id, addr, p.port, key);
        out.strings[name] = str;
        out.readback[name] = await readBack(str);
    }
    // How GramJS reads the Telethon strings (it claims to accept them).
    for (const [name, str] of Object.entries(p.foreign || {})) {
        try { out.readback[name] = await readBack(str); }
        catch (e) { out.readback[name] = { error: String(e) }; }
    }
    process.stdout.write(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
