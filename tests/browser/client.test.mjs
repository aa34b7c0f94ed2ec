// Unit tests of resources/web/medrelay-client.js under Node (with the ws
// package), against the real medrelay-server on 127.0.0.1. A small TCP proxy
// in front of the server lets a test cut a connection as a network would
// (reset, no close frame), hold back the server's answers, or refuse
// connections, without touching the client's internals.
//
// Usage: node --test client.test.mjs   with MEDRELAY_SERVER=<medrelay-server>

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

import { MedrelayClient, MedrelayError } from '../../resources/web/medrelay-client.js';

const require = createRequire(import.meta.url);
const WebSocket = require('ws');

const SERVER = process.env.MEDRELAY_SERVER;
const WAIT = 8000;
const JWT_SECRET = 'client-test-jwt-secret-0123456789';
const TURN_SECRET = 'client-test-turn-secret-98765';

const children = [];
const proxies = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medrelay-client-'));
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));
after(async () => {
    proxies.forEach((p) => p.close());
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => {
        const exited = new Promise((resolve) => c.once('exit', resolve));
        c.kill('SIGTERM');
        return withTimeout(exited, 'the server to exit').catch(() => c.kill('SIGKILL'));
    }));
    fs.rmSync(tmp, { recursive: true, force: true });
});

function withTimeout(promise, what, ms = WAIT) {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms); }),
    ]).finally(() => clearTimeout(timer));
}

async function startServer(extra = []) {
    assert.ok(SERVER, 'MEDRELAY_SERVER names the server binary');
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    const server = spawn(SERVER, ['--env', 'development', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir,
                                  '--web-root', 'off', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    let log = '';
    server.stderr.setEncoding('utf8').on('data', (d) => { log += d; });
    const port = await withTimeout(new Promise((resolve, reject) => {
        server.stdout.setEncoding('utf8').on('data', (d) => {
            log += d;
            const m = /listening on \S+:(\d+)/.exec(log);
            if (m)
                resolve(Number(m[1]));
        });
        server.once('exit', (code) => reject(new Error(`server exited (${code}):\n${log}`)));
    }), 'the server to listen');
    return { port, url: `ws://127.0.0.1:${port}/ws`, log: () => log };
}

// A TCP proxy: cut() resets every connection through it; holdReplies()
// keeps what the server sends until cut; refuse() turns new connections away.
async function startProxy(targetPort) {
    const pairs = new Set();
    let refusing = false;
    let holding = false;
    const server = net.createServer((client) => {
        if (refusing) {
            client.resetAndDestroy();
            return;
        }
        const upstream = net.connect(targetPort, '127.0.0.1');
        const pair = { client, upstream };
        pairs.add(pair);
        client.on('data', (d) => upstream.write(d));
        upstream.on('data', (d) => { if (!holding) client.write(d); });
        const end = () => {
            pairs.delete(pair);
            client.destroy();
            upstream.destroy();
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = {
        url: `ws://127.0.0.1:${server.address().port}/ws`,
        cut() {
            for (const { client, upstream } of pairs) {
                client.resetAndDestroy();
                upstream.resetAndDestroy();
            }
            pairs.clear();
            holding = false;
        },
        holdReplies() { holding = true; },
        refuse(on) { refusing = on; },
        close() { this.cut(); server.close(); },
    };
    proxies.push(proxy);
    return proxy;
}

function hs256(claims) {
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const body = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
    return `${body}.${crypto.createHmac('sha256', JWT_SECRET).update(body).digest('base64url')}`;
}

function tokenFor(sub, role, rooms, seconds = 3600) {
    const now = Math.floor(Date.now() / 1000);
    return hs256({ sub, name: `User ${sub}`, role, rooms, iat: now, exp: now + seconds });
}

// Resolves with the next `type` event (matching `pred`) of a client.
function next(client, type, pred = () => true, ms = WAIT) {
    return withTimeout(new Promise((resolve) => {
        const off = client.on(type, (m, meta) => {
            if (pred(m)) {
                off();
                resolve(meta === undefined ? m : { ...m, meta });
            }
        });
    }), `${type}`, ms);
}

function stateOf(client, state) {
    if (client.state === state)
        return Promise.resolve();
    return withTimeout(new Promise((resolve) => {
        const off = client.on('connectionstate', (e) => { if (e.state === state) { off(); resolve(e); } });
    }), `state ${state}`);
}

function newClient(url, extra = {}) {
    const c = new MedrelayClient({ url, WebSocket, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, ...extra });
    after(() => c.close());
    return c;
}

const chatsOf = (events) => events.map((m) => m.message);

test('connects, joins, chats both ways with acks and seq; states connecting -> connected', async () => {
    const { url } = await startServer();
    const a = newClient(url);
    const states = [];
    a.on('connectionstate', (e) => states.push(e.state));
    await a.connect();
    assert.deepEqual(states, ['connecting', 'connected']);
    const joined = await a.join({ roomId: 'appointment_1', appointmentId: 1, userId: 'u-a', userName: 'A', role: 'doctor' });
    assert.equal(joined.status, 'joined');
    assert.equal(joined.state.type, 'room_state');
    assert.equal(a.connectionId, joined.state.connectionId);

    const b = newClient(url);
    await b.connect();
    const seenByA = next(a, 'telemedicine_user_joined');
    await b.join({ roomId: 'appointment_1', appointmentId: 1, userId: 'u-b', userName: 'B' });
    assert.equal((await seenByA).userId, 'u-b');
    assert.equal(a.room('appointment_1').participants.length, 2);

    const received = next(b, 'telemedicine_chat_message');
    const stored = await a.sendChat('appointment_1', 'hello');
    assert.equal(stored.seq, 1);
    const m = await received;
    assert.equal(m.message, 'hello');
    assert.equal(m.seq, 1);
    assert.equal(m.userId, 'u-a', 'the server stamps the sender');
    assert.equal(m.meta.source, 'live');

    const back = next(a, 'whiteboard_update');
    assert.equal((await b.sendWhiteboard('appointment_1', { points: [[0, 0], [1, 1]] })).seq, 2);
    assert.deepEqual((await back).data, { points: [[0, 0], [1, 1]] });
    assert.deepEqual(a.history('appointment_1').map((h) => h.seq), [1, 2]);
    assert.equal(a.pending().length, 0);

    // Signalling is relayed as is (not stored, no seq).
    const offer = next(b, 'telemedicine_offer');
    assert.equal(a.sendOffer('appointment_1', { type: 'offer', sdp: 'v=0' }), true);
    assert.deepEqual((await offer).offer, { type: 'offer', sdp: 'v=0' });
    a.close();
    assert.equal(a.state, 'offline');
});

test('token in the URL and in an auth message; a join the token does not grant is refused', async () => {
    const { url } = await startServer(['--jwt-secret', JWT_SECRET]);
    const viaUrl = newClient(url, { token: tokenFor('101', 'doctor', ['appointment_7']) });
    await viaUrl.connect();
    const joined = await viaUrl.join({ roomId: 'appointment_7', appointmentId: 7 });
    assert.equal(joined.state.participants[0].userId, 101);
    await assert.rejects(viaUrl.join({ roomId: 'appointment_8', appointmentId: 8 }),
                         (e) => e instanceof MedrelayError && e.code === 'forbidden');
    assert.equal(viaUrl.room('appointment_8'), null, 'a refused join leaves no room behind');

    const viaMessage = newClient(url, { token: tokenFor('202', 'patient', ['appointment_7']), tokenTransport: 'message' });
    const ok = next(viaMessage, 'auth_ok');
    await viaMessage.connect();
    assert.equal((await ok).userId, 202);
    assert.equal((await viaMessage.join({ roomId: 'appointment_7', appointmentId: 7 })).status, 'joined');

    // A refused token: offline (a fixed token would be refused again), with the close.
    // (In the URL the server confirms nothing: the client counts as
    // connected until the refusal arrives.)
    const refused = newClient(url, { token: 'not-a-token' });
    const offline = withTimeout(new Promise((resolve) => {
        refused.on('connectionstate', (e) => { if (e.state === 'offline') resolve(); });
    }), 'offline');
    await refused.connect().catch(() => {});
    await offline;
    assert.equal(refused.lastClose.code, 4001);
});

test('ice_servers after room_state: STUN, and TURN credentials coturn accepts (HMAC-SHA1 of the name)', async () => {
    const { url } = await startServer(['--jwt-secret', JWT_SECRET, '--stun-uris', 'stun:192.0.2.1:3478',
                                       '--turn-uris', 'turn:192.0.2.1:3478?transport=udp,turns:turn.example:5349',
                                       '--turn-secret', TURN_SECRET, '--turn-credential-lifetime', '10']);
    const c = newClient(url, { token: tokenFor('303', 'patient', ['appointment_9']) });
    await c.connect();
    const order = [];
    c.on('message', (m) => order.push(m.type));
    const first = next(c, 'ice_servers');
    const before = Math.floor(Date.now() / 1000);
    await c.join({ roomId: 'appointment_9', appointmentId: 9 });
    const ice = await first;
    assert.deepEqual(order.slice(0, 2), ['room_state', 'ice_servers'], 'ice_servers follows room_state');
    assert.deepEqual(ice.iceServers[0], { urls: ['stun:192.0.2.1:3478'] });
    const turn = ice.iceServers[1];
    assert.deepEqual(turn.urls, ['turn:192.0.2.1:3478?transport=udp', 'turns:turn.example:5349']);
    const [expiry, user] = turn.username.split(':');
    assert.equal(user, '303', 'the verified user id, not a claimed one');
    assert.ok(Number(expiry) >= before + 10 && Number(expiry) <= before + 12, `expiry ${expiry} is now + 10 s`);
    assert.equal(turn.credential, crypto.createHmac('sha1', TURN_SECRET).update(turn.username).digest('base64'));
    assert.equal(ice.expiresAt, Number(expiry) * 1000);
    assert.deepEqual(c.iceServers, ice.iceServers);

    // Fresh credentials before these expire (80 % of 10 s), while in the room.
    const refreshed = await next(c, 'ice_servers', () => true, 15000);
    assert.ok(Number(refreshed.iceServers[1].username.split(':')[0]) > Number(expiry));
    assert.ok(refreshed.expiresAt > ice.expiresAt);
});

test('no ice_servers message when the server has neither STUN nor TURN', async () => {
    const { url } = await startServer();
    const c = newClient(url);
    await c.connect();
    const types = [];
    c.on('message', (m) => types.push(m.type));
    await c.join({ roomId: 'r-none', appointmentId: 1, userId: 'x' });
    await c.sendChat('r-none', 'ping'); // a round trip after room_state
    assert.ok(!types.includes('ice_servers'), types.join(','));
    assert.equal(c.iceServers, null);
});

test('a lost connection resumes: what was missed arrives once, nothing twice, own offline lines delivered once', async () => {
    const { port, url } = await startServer();
    const proxy = await startProxy(port);
    const host = newClient(url);
    await host.connect();
    await host.join({ roomId: 'appointment_2', appointmentId: 2, userId: 'doc', role: 'doctor' });
    const guest = newClient(proxy.url);
    const guestChats = [];
    guest.on('telemedicine_chat_message', (m, meta) => guestChats.push({ ...m, source: meta.source }));
    const states = [];
    guest.on('connectionstate', (e) => states.push(e.state));
    await guest.connect();
    await guest.join({ roomId: 'appointment_2', appointmentId: 2, userId: 'pat' });
    const hostChats = [];
    host.on('telemedicine_chat_message', (m) => hostChats.push(m));
    await host.sendChat('appointment_2', 'one');
    await withTimeout((async () => { while (guestChats.length < 1) await new Promise((r) => setTimeout(r, 20)); })(), 'one');

    let hostToldOfLeave = false;
    host.on('telemedicine_user_left', () => { hostToldOfLeave = true; });
    proxy.refuse(true);
    proxy.cut();
    await stateOf(guest, 'reconnecting');
    // Missed while away (recentChat and the replay both hold them) ...
    await host.sendChat('appointment_2', 'two');
    await host.sendChat('appointment_2', 'three');
    // ... and typed while offline: kept and sent after the resume.
    const own = guest.sendChat('appointment_2', 'typed offline');
    assert.equal(guest.pending('appointment_2').length, 1);
    const resumed = next(guest, 'room_state');
    proxy.refuse(false);
    assert.equal((await resumed).meta.resumed, true);
    assert.ok((await own).seq > 3);
    await withTimeout((async () => { while (hostChats.length < 1) await new Promise((r) => setTimeout(r, 20)); })(), 'own line');
    assert.deepEqual(chatsOf(guestChats), ['one', 'two', 'three']);
    assert.deepEqual(guestChats.map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(chatsOf(hostChats), ['typed offline']);
    assert.equal(hostToldOfLeave, false, 'the host never saw the guest leave: it took its place back');
    assert.ok(states.includes('reconnecting') && states.at(-1) === 'connected', states.join(','));
    // Once more later: still nothing twice.
    await host.sendChat('appointment_2', 'four');
    await withTimeout((async () => { while (guestChats.length < 4) await new Promise((r) => setTimeout(r, 20)); })(), 'four');
    assert.deepEqual(chatsOf(guestChats), ['one', 'two', 'three', 'four']);
    assert.deepEqual(guest.history('appointment_2').map((m) => m.seq), [1, 2, 3, 4, 5]);
});

test('a chat whose ack was lost is retried after the reconnect and not relayed twice', async () => {
    const { port, url } = await startServer();
    const proxy = await startProxy(port);
    const host = newClient(url);
    await host.connect();
    await host.join({ roomId: 'appointment_3', appointmentId: 3, userId: 'doc', role: 'doctor' });
    const hostChats = [];
    host.on('telemedicine_chat_message', (m) => hostChats.push(m));
    const guest = newClient(proxy.url);
    await guest.connect();
    await guest.join({ roomId: 'appointment_3', appointmentId: 3, userId: 'pat' });

    proxy.holdReplies(); // the server stores and relays it, but its ack never arrives
    const sent = guest.sendChat('appointment_3', 'only once');
    await withTimeout((async () => { while (hostChats.length < 1) await new Promise((r) => setTimeout(r, 20)); })(), 'relay');
    assert.equal(guest.pending('appointment_3').length, 1, 'not acknowledged yet');
    proxy.cut();
    const stored = await sent; // after the reconnect: the retry's ack, or the stored copy in room_state
    assert.equal(stored.seq, hostChats[0].seq);
    await host.sendChat('appointment_3', 'marker'); // a later message: anything duplicated would be before it
    const guestSaw = await next(guest, 'telemedicine_chat_message');
    assert.equal(guestSaw.message, 'marker');
    assert.deepEqual(chatsOf(hostChats), ['only once']);
    assert.equal(guest.pending().length, 0);
});

test('waiting room: waiting, admitted then room_state; denied', async () => {
    const { url } = await startServer(['--waiting-room', 'on']);
    const host = newClient(url);
    await host.connect();
    await host.join({ roomId: 'appointment_4', appointmentId: 4, userId: 'doc', role: 'clinician' });

    const guest = newClient(url);
    await guest.connect();
    const request = next(host, 'admission_request');
    assert.deepEqual(await guest.join({ roomId: 'appointment_4', appointmentId: 4, userId: 'pat' }), { status: 'waiting' });
    assert.equal(guest.room('appointment_4').status, 'waiting');
    const admitted = next(guest, 'admitted');
    const state = next(guest, 'room_state');
    host.admit('appointment_4', (await request).connectionId);
    await admitted;
    await state;
    assert.equal(guest.room('appointment_4').status, 'joined');

    const other = newClient(url);
    await other.connect();
    const second = next(host, 'admission_request');
    await other.join({ roomId: 'appointment_4', appointmentId: 4, userId: 'stranger' });
    const denied = next(other, 'denied');
    host.deny('appointment_4', (await second).connectionId);
    await denied;
    assert.equal(other.room('appointment_4'), null);
});

test('reconnects with exponential backoff and jitter while the server is unreachable; goes offline after maxAttempts', async () => {
    const { port } = await startServer();
    const proxy = await startProxy(port);
    const c = newClient(proxy.url, { random: () => 0.5, reconnect: { initialDelayMs: 40, factor: 2, jitter: 0.5,
                                                                       maxDelayMs: 200, maxAttempts: 5 } });
    const delays = [];
    c.on('connectionstate', (e) => { if (e.state === 'reconnecting' && e.delayMs !== undefined) delays.push(e.delayMs); });
    await c.connect();
    proxy.refuse(true);
    proxy.cut();
    await stateOf(c, 'offline');
    // base 40, 80, 160, 200, 200 (capped), each less a jitter of 0.5 * 0.5.
    assert.deepEqual(delays, [30, 60, 120, 150, 150]);
});

test('an administrator disconnect (4003) and the end of the consultation are final', async () => {
    const { port, url } = await startServer();
    const host = newClient(url);
    await host.connect();
    await host.join({ roomId: 'appointment_5', appointmentId: 5, userId: 'doc', role: 'doctor' });
    const guest = newClient(url);
    await guest.connect();
    await guest.join({ roomId: 'appointment_5', appointmentId: 5, userId: 'pat' });

    const ended = next(guest, 'consultation_ended');
    host.endConsultation('appointment_5');
    assert.equal((await ended).reason, 'ended_by_host');
    assert.equal(guest.room('appointment_5'), null);

    const kicked = stateOf(host, 'offline');
    const res = await fetch(`http://127.0.0.1:${port}/admin/connections/${host.connectionId}/disconnect`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    assert.equal(res.status, 200);
    await kicked;
    assert.equal(host.lastClose.code, 4003);
});
