// A real video consultation through the demo page, in Debian's Chromium
// driven by playwright-core, against the real medrelay-server, inside the
// network namespace run_in_netns.sh made (WebRTC gathers the veth pair's
// 192.0.2.x addresses, never this machine's own):
//
// 1. clinician and patient open the demo page; the patient waits and is
//    admitted; offer, answer and ICE cross; both RTCPeerConnections reach
//    `connected` and decode the other's (fake camera) video; chat goes both
//    ways; a whiteboard stroke drawn on one page appears on the other; the
//    server side of the patient's socket is destroyed (ss -K, as a network
//    failure would) and the page reconnects and resumes: a chat line sent
//    meanwhile arrives once, and the patient's own line typed while offline
//    is delivered once;
// 2. the same call with iceTransportPolicy "relay" through Debian's coturn
//    with use-auth-secret and the server's --turn-secret: it connects only if
//    the TURN credentials medrelay issued are valid, and the selected
//    candidate pair is relay to relay.
//
// Screenshots of both pages go to MEDRELAY_ARTIFACTS (the build directory).
//
// Usage: run_in_netns.sh node --test consultation.test.mjs
//        with MEDRELAY_SERVER=<medrelay-server> MEDRELAY_WEB_ROOT=<resources/web>

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');

const SERVER = process.env.MEDRELAY_SERVER;
const WEB_ROOT = process.env.MEDRELAY_WEB_ROOT;
const ARTIFACTS = process.env.MEDRELAY_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'medrelay-shots-'));
const CHROMIUM = process.env.MEDRELAY_CHROMIUM || '/usr/bin/chromium';
const TURNSERVER = process.env.MEDRELAY_TURNSERVER || 'turnserver';
const JWT_SECRET = 'browser-test-jwt-secret-0123456789';
const TURN_SECRET = 'browser-test-turn-secret-9876543210';
const TURN_PORT = 3478;
const WAIT = 20000; // the longest any one step may take

if (!process.env.MEDRELAY_NETNS)
    throw new Error('run this inside the namespace run_in_netns.sh makes (WebRTC must not use this machine\'s addresses)');

const children = [];
const pages = {}; // the call's two pages, for failure messages
let serverPort = 0;
let serverLog = '';
let turnLog = '';
let browser = null;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medrelay-browser-'));

function killAll() {
    for (const c of children) {
        if (c.exitCode === null && c.signalCode === null)
            c.kill('SIGKILL');
    }
}
process.on('exit', killAll);

function startServer() {
    return new Promise((resolve, reject) => {
        const server = spawn(SERVER, [
            '--env', 'development', '--host', '0.0.0.0', '--port', '0', '--data-dir', path.join(tmp, 'data'),
            '--jwt-secret', JWT_SECRET, '--waiting-room', 'on', '--web-root', WEB_ROOT,
            '--turn-uris', `turn:192.0.2.1:${TURN_PORT}?transport=udp`, '--turn-secret', TURN_SECRET,
        ], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(server);
        let out = '';
        const timer = setTimeout(() => reject(new Error(`server did not start:\n${serverLog}`)), WAIT);
        server.stderr.setEncoding('utf8').on('data', (d) => { serverLog += d; });
        server.stdout.setEncoding('utf8').on('data', (d) => {
            out += d;
            serverLog += d;
            const listening = /listening on \S+:(\d+)/.exec(out);
            const page = /demo consultation page: (\S+)/.exec(out);
            if (listening && page) {
                clearTimeout(timer);
                resolve({ port: Number(listening[1]), pageUrl: page[1] });
            }
        });
        server.once('exit', (code) => reject(new Error(`server exited (${code}):\n${serverLog}`)));
    });
}

function startTurn() {
    return new Promise((resolve, reject) => {
        const turn = spawn(TURNSERVER, [
            '-n', '--listening-ip=192.0.2.1', '--relay-ip=192.0.2.1', `--listening-port=${TURN_PORT}`,
            '--use-auth-secret', `--static-auth-secret=${TURN_SECRET}`, '--realm=medrelay.test',
            '--min-port=50000', '--max-port=50200', '--no-tls', '--no-dtls', '--no-cli', '--fingerprint',
            '--log-file=stdout', '--simple-log', `--pidfile=${path.join(tmp, 'turnserver.pid')}`,
            `--userdb=${path.join(tmp, 'turndb')}`,
        ], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(turn);
        const timer = setTimeout(() => reject(new Error(`coturn did not start:\n${turnLog}`)), WAIT);
        const onData = (d) => {
            turnLog += d;
            if (/Total General servers|IPv4. UDP listener opened on/i.test(turnLog)) {
                clearTimeout(timer);
                resolve();
            }
        };
        turn.stdout.setEncoding('utf8').on('data', onData);
        turn.stderr.setEncoding('utf8').on('data', onData);
        turn.once('exit', (code) => reject(new Error(`coturn exited (${code}):\n${turnLog}`)));
    });
}

before(async () => {
    assert.ok(SERVER, 'MEDRELAY_SERVER names the server binary');
    assert.ok(WEB_ROOT, 'MEDRELAY_WEB_ROOT names resources/web');
    const started = await startServer();
    serverPort = started.port;
    assert.match(started.pageUrl, /^http:\/\/localhost:\d+\/$/, 'the server prints the demo page URL');
    await startTurn();
    browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // Playwright gives each launch a fresh, temporary --user-data-dir.
        args: ['--headless', '--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
               '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
               '--disable-gpu'],
    });
});

after(async () => {
    await browser?.close().catch(() => {});
    killAll();
    fs.rmSync(tmp, { recursive: true, force: true });
});

// Two origins on loopback (both secure contexts for getUserMedia): the
// patient's socket is then the only one whose server end has 127.0.0.2.
async function openPage(host, query) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    const log = [];
    page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
    await page.goto(`http://${host}:${serverPort}/?${new URLSearchParams(query)}`);
    page.log = log;
    return page;
}

// What a page shows and logged, for a failure's message.
async function describe(page) {
    const shown = await page.evaluate(() => `${document.body.innerText}\n--- call:\n${(window.demo?.callLog ?? []).join('\n')}`)
        .catch((e) => `(no text: ${e.message})`);
    return `${shown}\n--- console:\n${page.log.join('\n')}`;
}

async function waitForState(page, state) {
    await page.waitForFunction((s) => document.querySelector('#connection').dataset.state === s, state,
                               { timeout: WAIT });
}

// The RTCPeerConnection's state and what its receiver decoded.
async function callStats(page) {
    return page.evaluate(async () => {
        const pc = window.demo?.pc;
        if (!pc)
            return { connectionState: 'none', framesDecoded: 0 };
        const stats = await pc.getStats();
        let framesDecoded = 0;
        let pair = null;
        const byId = new Map();
        stats.forEach((s) => byId.set(s.id, s));
        stats.forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'video')
                framesDecoded += s.framesDecoded ?? 0;
            if (s.type === 'transport' && s.selectedCandidatePairId)
                pair = byId.get(s.selectedCandidatePairId);
        });
        const local = pair && byId.get(pair.localCandidateId);
        const remote = pair && byId.get(pair.remoteCandidateId);
        return {
            connectionState: pc.connectionState,
            framesDecoded,
            localType: local?.candidateType,
            remoteType: remote?.candidateType,
            localAddress: local?.address,
        };
    });
}

async function waitForCall(page, what) {
    const deadline = Date.now() + WAIT;
    let last;
    while (Date.now() < deadline) {
        last = await callStats(page);
        if (last.connectionState === 'connected' && last.framesDecoded > 0)
            return last;
        await page.waitForTimeout(200);
    }
    const other = page === pages.clinician ? pages.patient : pages.clinician;
    assert.fail(`${what}: call not connected with decoded video: ${JSON.stringify(last)}\n${await describe(page)}\n`
                + `--- the other page:\n${other ? await describe(other) : ''}\n`
                + `--- coturn:\n${turnLog.split('\n').slice(-40).join('\n')}`);
}

const chatLines = (page) => page.evaluate(() => window.demo.chat.map((c) => `${c.mine ? 'me' : 'them'}:${c.message}`));

async function waitForChat(page, line) {
    await page.waitForFunction((l) => window.demo.chat.some((c) => c.message === l), line, { timeout: WAIT });
}

async function sendChat(page, line) {
    await page.fill('#chat-input', line);
    await page.press('#chat-input', 'Enter');
}

// Both pages in one room; the patient waits until the clinician admits it.
async function admittedCall(room, extra = {}) {
    const clinician = await openPage('127.0.0.1', { role: 'clinician', room, name: 'Dr. Ada', ...extra });
    await waitForState(clinician, 'connected');
    const patient = await openPage('127.0.0.2', { role: 'patient', room, name: 'Pat', retry: '1500', ...extra });
    await patient.locator('#notice', { hasText: 'Waiting for the clinician' }).waitFor({ timeout: WAIT });
    const admit = clinician.locator('#waiting li button', { hasText: 'Admit' });
    await admit.waitFor({ timeout: WAIT });
    await admit.click();
    try {
        await patient.locator('#participants li', { hasText: 'Dr. Ada' }).waitFor({ timeout: WAIT });
    } catch (e) {
        throw new Error(`${e.message}\npatient page:\n${await describe(patient)}\nclinician page:\n${await describe(clinician)}`);
    }
    pages.clinician = clinician;
    pages.patient = patient;
    return { clinician, patient };
}

test('clinician and patient: waiting room, video both ways, chat, whiteboard, resume after a cut socket', async () => {
    const { clinician, patient } = await admittedCall('appointment_501');

    // Video both ways, over the namespace's own addresses.
    const c = await waitForCall(clinician, 'clinician');
    const p = await waitForCall(patient, 'patient');
    assert.match(c.localAddress ?? '', /^192\.0\.2\./, `host candidates from the veth pair: ${JSON.stringify(c)}`);
    assert.ok(p.framesDecoded > 0);

    // Chat both ways.
    await sendChat(clinician, 'Good morning, how is the rash today?');
    await waitForChat(patient, 'Good morning, how is the rash today?');
    await sendChat(patient, 'Better, thank you.');
    await waitForChat(clinician, 'Better, thank you.');

    // A stroke drawn on the clinician's whiteboard appears on the patient's.
    const box = await clinician.locator('#board').boundingBox();
    await clinician.mouse.move(box.x + 40, box.y + 40);
    await clinician.mouse.down();
    for (let i = 1; i <= 12; ++i)
        await clinician.mouse.move(box.x + 40 + i * 20, box.y + 40 + i * 8);
    await clinician.mouse.up();
    await patient.waitForFunction(() => document.querySelector('#board').dataset.strokes === '1', null,
                                  { timeout: WAIT });
    const inked = await patient.evaluate(() => {
        const canvas = document.querySelector('#board');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4)
            n += data[i] > 0 ? 1 : 0;
        return n;
    });
    assert.ok(inked > 100, `the stroke is drawn on the patient's canvas (${inked} pixels)`);

    await clinician.screenshot({ path: path.join(ARTIFACTS, 'browser-clinician.png') });
    await patient.screenshot({ path: path.join(ARTIFACTS, 'browser-patient.png') });

    // The server's end of the patient's socket is destroyed, as a network
    // failure would (an RST to the browser, no close frame).
    const killed = execFileSync('ss', ['-K', 'state', 'established', 'src', '127.0.0.2', 'sport', '=', `:${serverPort}`],
                                { encoding: 'utf8' });
    assert.match(killed, new RegExp(`127\\.0\\.0\\.2:${serverPort}`), `ss -K destroyed the patient's socket:\n${killed}`);
    await waitForState(patient, 'reconnecting');
    // While it is away: a line from the clinician, and one typed by the patient.
    await sendChat(clinician, 'Did you use the cream twice a day?');
    await sendChat(patient, 'Typed while offline');
    await waitForState(patient, 'connected');
    await waitForChat(patient, 'Did you use the cream twice a day?');
    await waitForChat(clinician, 'Typed while offline');
    // Once each, nothing lost, nothing twice (recentChat and the replay overlap).
    const patientLines = (await chatLines(patient)).sort();
    assert.deepEqual(patientLines, [
        'me:Better, thank you.',
        'me:Typed while offline',
        'them:Did you use the cream twice a day?',
        'them:Good morning, how is the rash today?',
    ]);
    assert.deepEqual((await chatLines(clinician)).sort(), [
        'me:Did you use the cream twice a day?',
        'me:Good morning, how is the rash today?',
        'them:Better, thank you.',
        'them:Typed while offline',
    ]);
    // The clinician was never told the patient left: it resumed its place,
    // and the call itself never depended on the socket.
    assert.equal(await clinician.locator('#participants li').count(), 2);
    assert.equal((await callStats(clinician)).connectionState, 'connected');
    await patient.screenshot({ path: path.join(ARTIFACTS, 'browser-patient-resumed.png') });

    // The clinician ends the consultation; both pages say so.
    await clinician.click('#end');
    await patient.locator('#notice', { hasText: 'The consultation has ended' }).waitFor({ timeout: WAIT });
    await clinician.locator('#notice', { hasText: 'The consultation has ended' }).waitFor({ timeout: WAIT });
    await clinician.context().close();
    await patient.context().close();
});

test('relay only: the call goes through coturn with the credentials medrelay issued', async () => {
    const { clinician, patient } = await admittedCall('appointment_502', { ice: 'relay' });
    const turnUsername = await patient.evaluate(() => window.demo.client.iceServers
        .find((s) => String(s.urls).startsWith('turn:'))?.username);
    assert.match(turnUsername ?? '', /^\d+:patient-/, 'the patient got TURN credentials for its own user id');
    const c = await waitForCall(clinician, 'clinician (relay)');
    const p = await waitForCall(patient, 'patient (relay)');
    assert.equal(c.localType, 'relay', JSON.stringify(c));
    assert.equal(c.remoteType, 'relay', JSON.stringify(c));
    assert.equal(p.localType, 'relay', JSON.stringify(p));
    assert.match(turnLog, /(session|allocation)/i, 'coturn saw allocations');
    await clinician.screenshot({ path: path.join(ARTIFACTS, 'browser-relay-clinician.png') });
    await clinician.context().close();
    await patient.context().close();
});
