'use strict';
// Drop-in compatibility test. The client below is written against the README
// of the Node.js server medrelay replaces, and nothing else: the URL, the
// message shapes (numeric userId and appointmentId, `timestamp: Date.now()` as
// in the README's example), GET /health and GET /stats. If medrelay is a
// drop-in replacement, such a client works unchanged.
//
// Usage: node --test original_client.test.js   with MEDRELAY_SERVER=<path>
//        node original_client.test.js <path-to-medrelay-server>

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');

const SERVER = process.env.MEDRELAY_SERVER || process.argv[2];
const WAIT_MS = 5000; // upper bound on any single wait for a message or reply
const ROOM = 'appointment_123';
const APPOINTMENT = 123;

const DOCTOR = { userId: 101, userName: 'Dr. Ada Smith' };
const PATIENT = { userId: 202, userName: 'Pat Jones' };
const NURSE = { userId: 303, userName: 'Nurse Lee' };
const OTHER = { userId: 404, userName: 'Other Room' };

let server = null;
let serverExit = null; // resolves with { code, signal } when the process ends
let serverLog = '';
let port = 0;
const clients = [];

function killServerNow() {
    if (server && server.exitCode === null && server.signalCode === null)
        server.kill('SIGKILL');
}
// Whatever happens (an assertion, an exception, Ctrl-C), the server goes too.
process.on('exit', killServerNow);
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
        killServerNow();
        process.exit(130);
    });
}

function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function startServer() {
    return withTimeout(new Promise((resolve, reject) => {
        // Each run gets its own data directory (the audit log is locked per directory).
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'medrelay-e2e-'));
        server = spawn(SERVER, ['--port', '0', '--host', '127.0.0.1', '--env', 'development', '--data-dir', dataDir], {
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        serverExit = new Promise((res) => server.once('exit', (code, signal) => res({ code, signal })));
        let stdout = '';
        server.stdout.setEncoding('utf8');
        server.stderr.setEncoding('utf8');
        server.stderr.on('data', (d) => { serverLog += d; });
        server.stdout.on('data', (d) => {
            stdout += d;
            serverLog += d;
            const m = /medrelay-server listening on (\S+):(\d+)/.exec(stdout);
            if (m && !port) {
                port = Number(m[2]);
                resolve(port);
            }
        });
        server.once('error', reject);
        server.once('exit', (code, signal) => {
            if (!port)
                reject(new Error(`server exited before listening (code ${code}, signal ${signal}):\n${serverLog}`));
        });
    }), 15000, 'the server to print its listening line');
}

async function stopServer() {
    if (!server || server.exitCode !== null || server.signalCode !== null)
        return;
    server.kill('SIGTERM');
    try {
        await withTimeout(serverExit, 8000, 'the server to exit after SIGTERM');
    } catch (e) {
        killServerNow();
        throw e;
    }
}

// A client as the README's "Testing WebSocket Connection" example writes it:
// open ws://host:port/ws, send JSON, parse JSON. Every message received is
// queued so a test can wait for the one it expects.
class Client {
    constructor(name, user) {
        this.name = name;
        this.user = user;
        this.received = [];
        this.waiters = [];
        this.closed = null;
    }

    open() {
        this.ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
        clients.push(this);
        this.closed = new Promise((resolve) => {
            this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
        });
        this.ws.on('message', (data) => {
            const msg = JSON.parse(data.toString());
            this.received.push(msg);
            for (const w of [...this.waiters]) {
                if (w.match(msg)) {
                    this.waiters.splice(this.waiters.indexOf(w), 1);
                    w.resolve(msg);
                }
            }
        });
        return withTimeout(new Promise((resolve, reject) => {
            this.ws.once('open', resolve);
            this.ws.once('error', reject);
        }), WAIT_MS, `${this.name} to connect`);
    }

    send(message) {
        this.ws.send(JSON.stringify(message));
    }

    // Resolves with the first message, received since `from` (an index into
    // `received`), for which match() is true.
    waitFor(match, what, from = 0) {
        const seen = this.received.slice(from).find(match);
        if (seen)
            return Promise.resolve(seen);
        let waiter;
        const p = new Promise((resolve) => {
            waiter = { match, resolve };
            this.waiters.push(waiter);
        });
        return withTimeout(p, WAIT_MS, `${this.name}: ${what}`).finally(() => {
            const i = this.waiters.indexOf(waiter);
            if (i >= 0)
                this.waiters.splice(i, 1);
        });
    }

    mark() {
        return this.received.length;
    }

    // Room traffic only: the server may send other kinds (medrelay's
    // room_state) that an original client ignores.
    relayedSince(from) {
        return this.received.slice(from).filter((m) => typeof m.type === 'string' && m.type !== 'room_state');
    }

    join() {
        this.send({
            type: 'telemedicine_user_joined',
            roomId: this.room || ROOM,
            appointmentId: this.appointmentId || APPOINTMENT,
            userId: this.user.userId,
            userName: this.user.userName,
            timestamp: Date.now(),
        });
    }

    close() {
        if (this.ws && this.ws.readyState === WebSocket.OPEN)
            this.ws.close();
        return withTimeout(this.closed, WAIT_MS, `${this.name} to close`);
    }
}

function httpGet(path) {
    return withTimeout(new Promise((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
        });
        req.on('error', reject);
    }), WAIT_MS, `GET ${path}`);
}

async function health() {
    const res = await httpGet('/health');
    assert.equal(res.status, 200, res.body);
    return JSON.parse(res.body);
}

// Polls /health until the room holds `count` connections (0 = room gone): a
// README-only way to know the server has processed a join or a leave.
async function waitForRoomSize(count) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
        const h = await health();
        const room = (h.roomDetails || []).find((r) => r.id === ROOM);
        const size = room ? room.connectionCount : 0;
        if (size === count)
            return h;
        if (Date.now() > deadline)
            assert.fail(`room ${ROOM} has ${size} connection(s), expected ${count}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

// The server owns `timestamp`: it must be a number of milliseconds near now.
function assertServerTimestamp(msg) {
    assert.equal(typeof msg.timestamp, 'number', 'timestamp is a number');
    assert.ok(Math.abs(msg.timestamp - Date.now()) < 60000, `timestamp ${msg.timestamp} is near now`);
}

// The tests share one room and run in order. Each one waits until every
// message it caused has reached every recipient, so the next one starts from
// a quiet room and can count exactly what it receives.
const doctor = new Client('doctor', DOCTOR);
const patient = new Client('patient', PATIENT);
const nurse = new Client('nurse', NURSE);
const outsider = new Client('outsider', OTHER);
outsider.room = 'appointment_456';
outsider.appointmentId = 456;

before(async () => {
    assert.ok(SERVER, 'set MEDRELAY_SERVER or pass the medrelay-server path as the first argument');
    await startServer();
});

after(async () => {
    for (const c of clients) {
        if (c.ws && c.ws.readyState !== WebSocket.CLOSED)
            c.ws.terminate();
    }
    await stopServer();
});

test('three clients join appointment_123; earlier members see telemedicine_user_joined', async () => {
    await doctor.open();
    doctor.join();
    await waitForRoomSize(1);

    await patient.open();
    const dm = doctor.mark();
    patient.join();
    const joined = await doctor.waitFor((m) => m.type === 'telemedicine_user_joined', 'patient join', dm);
    assert.equal(joined.roomId, ROOM);
    assert.equal(joined.appointmentId, APPOINTMENT);
    assert.equal(joined.userId, PATIENT.userId);
    assert.equal(joined.userName, PATIENT.userName);
    assertServerTimestamp(joined);
    await waitForRoomSize(2);

    await nurse.open();
    const dm2 = doctor.mark();
    const pm = patient.mark();
    nurse.join();
    for (const [c, from] of [[doctor, dm2], [patient, pm]]) {
        const j = await c.waitFor((m) => m.type === 'telemedicine_user_joined' && m.userId === NURSE.userId,
            'nurse join', from);
        assert.equal(j.userName, NURSE.userName);
        assert.equal(j.roomId, ROOM);
        assert.equal(j.appointmentId, APPOINTMENT);
    }
    await waitForRoomSize(3);

    // Nobody is told about their own join.
    for (const c of [doctor, patient, nurse]) {
        assert.ok(!c.received.some((m) => m.type === 'telemedicine_user_joined' && m.userId === c.user.userId),
            `${c.name} did not receive its own join`);
    }

    await outsider.open();
    outsider.join();
    await withTimeout((async () => {
        for (;;) {
            const h = await health();
            if ((h.roomDetails || []).some((r) => r.id === 'appointment_456'))
                return;
            await new Promise((r) => setTimeout(r, 20));
        }
    })(), WAIT_MS, 'appointment_456 to appear in /health');
});

test('offer without `to` reaches every other member; `from` is set by the server', async () => {
    const marks = [doctor.mark(), patient.mark(), nurse.mark()];
    const offer = { type: 'offer', sdp: 'v=0\r\no=- 46117317 2 IN IP4 127.0.0.1\r\ns=-\r\n' };
    doctor.send({
        type: 'telemedicine_offer',
        roomId: ROOM,
        appointmentId: APPOINTMENT,
        offer,
        from: 'someone-else', // a client's claim; the server knows better
        timestamp: Date.now(),
        sentAt: 1234567,      // the sender's own field travels unchanged
    });
    for (const [c, from] of [[patient, marks[1]], [nurse, marks[2]]]) {
        const m = await c.waitFor((x) => x.type === 'telemedicine_offer', `${c.name} offer`, from);
        assert.deepEqual(m.offer, offer);
        assert.equal(m.roomId, ROOM);
        assert.equal(m.appointmentId, APPOINTMENT);
        assert.equal(String(m.from), String(DOCTOR.userId), 'from is the sender, set by the server');
        assert.equal(m.sentAt, 1234567);
        assertServerTimestamp(m);
    }

    // Not echoed: the doctor's next room message is the patient's reply,
    // which the server handled after the offer.
    patient.send({ type: 'telemedicine_chat_message', roomId: ROOM, appointmentId: APPOINTMENT,
        message: 'offer received', userId: PATIENT.userId, userName: PATIENT.userName, timestamp: Date.now() });
    await doctor.waitFor((x) => x.type === 'telemedicine_chat_message' && x.message === 'offer received',
        'patient reply', marks[0]);
    // The reply went to the nurse too; let it land before the next test counts.
    await nurse.waitFor((x) => x.message === 'offer received', 'patient reply', marks[2]);
    const first = doctor.relayedSince(marks[0])[0];
    assert.equal(first.type, 'telemedicine_chat_message', 'the offer was not echoed to its sender');
});

test('answer and ice candidates with `to` reach only the named user', async () => {
    const marks = [doctor.mark(), patient.mark(), nurse.mark()];
    const answer = { type: 'answer', sdp: 'v=0\r\no=- 99 2 IN IP4 127.0.0.1\r\n' };
    // README: to?: string
    patient.send({ type: 'telemedicine_answer', roomId: ROOM, appointmentId: APPOINTMENT, answer,
        from: String(PATIENT.userId), to: String(DOCTOR.userId), timestamp: Date.now(), seq: 1 });
    const a = await doctor.waitFor((x) => x.type === 'telemedicine_answer', 'answer', marks[0]);
    assert.deepEqual(a.answer, answer);
    assert.equal(String(a.from), String(PATIENT.userId));
    assert.equal(String(a.to), String(DOCTOR.userId));
    assert.equal(a.seq, 1);
    assertServerTimestamp(a);

    // The same sender then targets the nurse (a numeric id, as some clients
    // send it): if the answer had leaked to the nurse it would come first.
    const candidate = { candidate: 'candidate:1 1 UDP 2122252543 127.0.0.1 50000 typ host',
        sdpMid: '0', sdpMLineIndex: 0 };
    patient.send({ type: 'telemedicine_ice_candidate', roomId: ROOM, appointmentId: APPOINTMENT, candidate,
        from: String(PATIENT.userId), to: NURSE.userId, timestamp: Date.now(), seq: 2 });
    const c = await nurse.waitFor((x) => x.type === 'telemedicine_ice_candidate', 'targeted candidate', marks[2]);
    assert.deepEqual(c.candidate, candidate);
    assert.equal(c.seq, 2);
    assert.equal(String(c.from), String(PATIENT.userId));
    assert.deepEqual(nurse.relayedSince(marks[2]).map((m) => m.type), ['telemedicine_ice_candidate'],
        'the nurse saw neither the answer nor anything else');

    // And a candidate without `to` goes to both others.
    patient.send({ type: 'telemedicine_ice_candidate', roomId: ROOM, appointmentId: APPOINTMENT, candidate,
        from: String(PATIENT.userId), timestamp: Date.now(), seq: 3 });
    for (const [cl, from] of [[doctor, marks[0]], [nurse, marks[2]]]) {
        const m = await cl.waitFor((x) => x.type === 'telemedicine_ice_candidate' && x.seq === 3,
            `${cl.name} broadcast candidate`, from);
        assert.deepEqual(m.candidate, candidate);
    }
    assert.deepEqual(doctor.relayedSince(marks[0]).map((m) => m.type),
        ['telemedicine_answer', 'telemedicine_ice_candidate'], 'the doctor did not get the targeted candidate');

    // Nothing the patient sent came back to the patient.
    assert.ok(!patient.relayedSince(marks[1]).some((m) => String(m.from) === String(PATIENT.userId)),
        'no signalling echoed to its sender');
});

test('chat messages reach the others with the sender\'s fields, not the sender', async () => {
    const marks = [doctor.mark(), patient.mark(), nurse.mark()];
    const text = 'Please describe your symptoms. ü ✓';
    doctor.send({
        type: 'telemedicine_chat_message',
        roomId: ROOM,
        appointmentId: APPOINTMENT,
        message: text,
        userId: DOCTOR.userId,
        userName: DOCTOR.userName,
        timestamp: Date.now(),
        localId: 'msg-1', // a field of the client's own: it travels unchanged
    });
    for (const [c, from] of [[patient, marks[1]], [nurse, marks[2]]]) {
        const m = await c.waitFor((x) => x.type === 'telemedicine_chat_message' && x.localId === 'msg-1',
            `${c.name} chat`, from);
        assert.equal(m.message, text);
        assert.equal(m.roomId, ROOM);
        assert.equal(m.appointmentId, APPOINTMENT);
        assert.equal(m.userId, DOCTOR.userId, 'userId keeps its numeric type');
        assert.equal(m.userName, DOCTOR.userName);
        assertServerTimestamp(m);
    }
    nurse.send({ type: 'telemedicine_chat_message', roomId: ROOM, appointmentId: APPOINTMENT,
        message: 'ack', userId: NURSE.userId, userName: NURSE.userName, timestamp: Date.now() });
    await doctor.waitFor((x) => x.type === 'telemedicine_chat_message' && x.message === 'ack', 'nurse ack', marks[0]);
    await patient.waitFor((x) => x.message === 'ack', 'nurse ack', marks[1]);
    assert.deepEqual(doctor.relayedSince(marks[0]).map((m) => m.message), ['ack'],
        'the doctor\'s own chat was not echoed');
});

test('whiteboard updates reach the others, appointmentId optional', async () => {
    const marks = [doctor.mark(), patient.mark(), nurse.mark()];
    const data = { tool: 'pen', color: '#ff0000', points: [[1, 2], [3, 4.5]], nested: { a: [true, null] } };
    // README: appointmentId?: number
    patient.send({ type: 'whiteboard_update', roomId: ROOM, data, userId: PATIENT.userId,
        userName: PATIENT.userName, timestamp: Date.now(), strokeId: 'stroke-7' });
    for (const [c, from] of [[doctor, marks[0]], [nurse, marks[2]]]) {
        const m = await c.waitFor((x) => x.type === 'whiteboard_update', `${c.name} whiteboard`, from);
        assert.deepEqual(m.data, data);
        assert.equal(m.strokeId, 'stroke-7');
        assert.equal(m.roomId, ROOM);
        assert.equal(m.userId, PATIENT.userId);
        assert.equal(m.userName, PATIENT.userName);
        assertServerTimestamp(m);
    }
    doctor.send({ type: 'whiteboard_update', roomId: ROOM, appointmentId: APPOINTMENT, data: { clear: true },
        userId: DOCTOR.userId, userName: DOCTOR.userName, timestamp: Date.now() });
    await patient.waitFor((x) => x.type === 'whiteboard_update' && x.data && x.data.clear, 'doctor clear', marks[1]);
    await nurse.waitFor((x) => x.type === 'whiteboard_update' && x.data && x.data.clear, 'doctor clear', marks[2]);
    assert.deepEqual(patient.relayedSince(marks[1]).map((m) => m.data), [{ clear: true }],
        'the patient\'s own stroke was not echoed');
});

test('GET /health has the README fields', async () => {
    const res = await httpGet('/health');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] || '', /application\/json/);
    const h = JSON.parse(res.body);
    assert.equal(h.status, 'healthy');
    assert.match(h.timestamp, ISO);
    assert.ok(!Number.isNaN(Date.parse(h.timestamp)));
    assert.equal(typeof h.uptime, 'number');
    assert.ok(h.uptime >= 0);
    assert.equal(h.connections, 4);
    assert.equal(h.rooms, 2);
    assert.ok(Array.isArray(h.roomDetails));
    const room = h.roomDetails.find((r) => r.id === ROOM);
    assert.ok(room, 'appointment_123 is listed');
    assert.equal(room.connectionCount, 3);
    assert.equal(room.appointmentId, APPOINTMENT);
    assert.match(room.lastActivity, ISO);
    const other = h.roomDetails.find((r) => r.id === 'appointment_456');
    assert.equal(other.connectionCount, 1);
    assert.equal(other.appointmentId, 456);
});

test('GET /stats answers without a token in development', async () => {
    const res = await httpGet('/stats');
    assert.equal(res.status, 200, res.body);
    const s = JSON.parse(res.body);
    assert.equal(typeof s, 'object');
    assert.equal(s.connections, 4);
});

test('telemedicine_user_left tells the others; a closed socket does too', async () => {
    const marks = [doctor.mark(), patient.mark(), nurse.mark()];
    nurse.send({ type: 'telemedicine_user_left', roomId: ROOM, appointmentId: APPOINTMENT, userId: NURSE.userId,
        timestamp: Date.now() });
    for (const [c, from] of [[doctor, marks[0]], [patient, marks[1]]]) {
        const m = await c.waitFor((x) => x.type === 'telemedicine_user_left', `${c.name} nurse left`, from);
        assert.equal(m.roomId, ROOM);
        assert.equal(m.userId, NURSE.userId);
        assert.equal(m.appointmentId, APPOINTMENT);
    }
    await waitForRoomSize(2);

    // After leaving, the nurse gets no more room traffic.
    const nm = nurse.mark();
    const dm = doctor.mark();
    patient.send({ type: 'telemedicine_chat_message', roomId: ROOM, appointmentId: APPOINTMENT,
        message: 'after leave', userId: PATIENT.userId, userName: PATIENT.userName, timestamp: Date.now() });
    await doctor.waitFor((x) => x.message === 'after leave', 'chat after leave', dm);

    // A client that just goes away (tab closed) is announced as having left.
    const dm2 = doctor.mark();
    await patient.close();
    const gone = await doctor.waitFor((x) => x.type === 'telemedicine_user_left', 'patient disconnected', dm2);
    assert.equal(gone.userId, PATIENT.userId);
    assert.equal(gone.roomId, ROOM);
    await waitForRoomSize(1);
    assert.deepEqual(nurse.relayedSince(nm), [], 'the nurse left and heard nothing more');

    // Rooms are separate: the other appointment heard nothing of this one.
    assert.deepEqual(outsider.relayedSince(0), [], 'appointment_456 received no traffic from appointment_123');
});

test('SIGTERM closes open clients with 1001 and the server exits 0', async () => {
    await stopServer();
    const { code, signal } = await serverExit;
    assert.equal(signal, null, `server exited by signal ${signal}\n${serverLog}`);
    assert.equal(code, 0, serverLog);
    const closed = await withTimeout(doctor.closed, WAIT_MS, 'doctor close');
    assert.equal(closed.code, 1001);
});
