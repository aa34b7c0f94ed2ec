// N admin consoles watching one medrelay server, for tests/bench/consoles.sh.
//   node watch.mjs --port P --token T --count N --mode stream|poll --seconds S
// stream: N WebSockets on /admin/ws (what the console does now); poll: N
// pollers of /health, /stats and /admin/events once a second, each request
// on a new connection (what the console did before the stream). Prints one
// JSON line: messages or requests, bytes received, failures.
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../reference/package.json', import.meta.url));
const WebSocket = require('ws');

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => {
    if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1]]);
    return pairs;
}, []));
const port = Number(args.port);
const token = args.token;
const count = Number(args.count ?? 10);
const mode = args.mode ?? 'stream';
const seconds = Number(args.seconds ?? 60);
const headers = { Authorization: `Bearer ${token}` };
const stats = { mode, count, messages: 0, requests: 0, bytes: 0, failures: 0, snapshots: 0, seconds: 0, kinds: {}, statsBytesMax: 0 };
const started = process.hrtime.bigint();

function get(path) {
    return new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
            let size = 0;
            res.on('data', (chunk) => { stats.bytes += chunk.length; size += chunk.length; });
            res.on('end', () => {
                stats.requests += 1;
                if (res.statusCode !== 200) stats.failures += 1;
                if (path === '/stats') stats.statsBytesMax = Math.max(stats.statsBytesMax, size);
                resolve();
            });
        });
        req.on('error', () => { stats.failures += 1; resolve(); });
    });
}

const sockets = [];
const timers = [];
if (mode === 'stream') {
    for (let i = 0; i < count; ++i) {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/admin/ws`, { headers });
        ws.on('message', (data) => {
            stats.messages += 1;
            stats.bytes += data.length;
            const text = String(data);
            const kind = /"change":"([a-z_]+)"/.exec(text)?.[1] ?? /"type":"([a-z_]+)"/.exec(text)?.[1] ?? '?';
            stats.kinds[kind] = (stats.kinds[kind] ?? 0) + 1;
            if (kind === 'snapshot') stats.snapshots += 1;
        });
        ws.on('error', () => { stats.failures += 1; });
        sockets.push(ws);
    }
} else {
    for (let i = 0; i < count; ++i) {
        timers.push(setInterval(() => {
            get('/health');
            get('/stats');
            get('/admin/events');
        }, 1000));
    }
}

function finish() {
    timers.forEach(clearInterval);
    sockets.forEach((ws) => ws.terminate());
    stats.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(JSON.stringify(stats));
    setTimeout(() => process.exit(0), 200);
}
// Stopped by the driver when the load ends, or at the latest after `seconds`.
process.on('SIGTERM', finish);
setTimeout(finish, seconds * 1000);
