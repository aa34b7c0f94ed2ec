// The demo consultation page: a clinician and a patient in one room, with
// video (WebRTC, through the ICE servers medrelay hands out), chat, a shared
// whiteboard, the waiting room and the connection state, all through
// medrelay-client.js.
//
// index.html?role=clinician|patient&room=ROOM[&name=NAME][&user=ID]
//   [&ice=relay]   use TURN relays only (checks the TURN credentials)
//   [&retry=MS]    first reconnection delay

import { MedrelayClient } from './medrelay-client.js';

const params = new URLSearchParams(location.search);
const role = params.get('role');
const $ = (id) => document.getElementById(id);

if (role !== 'clinician' && role !== 'patient') {
    showStart();
} else {
    startConsultation().catch((e) => notice(`Could not start: ${e.message ?? e}`, 'bad'));
}

function showStart() {
    $('start').hidden = false;
    $('start-form').addEventListener('submit', (event) => {
        event.preventDefault();
        const form = new FormData(event.target);
        const next = new URLSearchParams({ role: event.submitter?.value ?? 'patient', room: form.get('room') });
        if (form.get('name'))
            next.set('name', form.get('name'));
        location.search = next.toString();
    });
}

function notice(text, kind = 'info') {
    const n = $('notice');
    n.hidden = !text;
    n.textContent = text ?? '';
    n.dataset.kind = kind;
}

function text(tag, content, className) {
    const e = document.createElement(tag);
    e.textContent = content;
    if (className)
        e.className = className;
    return e;
}

// A user id that stays the same across reloads of this tab, so a reload
// (like a reconnect) resumes instead of joining as someone new.
function stableUserId() {
    if (params.get('user'))
        return params.get('user');
    const key = `medrelay-demo-user:${role}:${params.get('room')}`;
    let id = sessionStorage.getItem(key);
    if (!id) {
        id = `${role}-${Math.random().toString(36).slice(2, 8)}`;
        sessionStorage.setItem(key, id);
    }
    return id;
}

async function startConsultation() {
    const roomId = params.get('room') || 'appointment_123';
    const userId = stableUserId();
    const userName = params.get('name') || (role === 'clinician' ? 'Dr. Demo' : 'Patient Demo');
    const relayOnly = params.get('ice') === 'relay';
    const retry = Number(params.get('retry')) || 500;
    $('consultation').hidden = false;
    $('who').textContent = `${userName} (${role}) in ${roomId}`;
    if (role === 'clinician') {
        $('waiting-panel').hidden = false;
        $('end').hidden = false;
    }

    // A token from the development endpoint when the server has a JWT
    // secret; without one (404) the identity is claimed, as development
    // allows.
    let devToken = null;
    let appointmentId = Number(/(\d+)$/.exec(roomId)?.[1] ?? 1);
    const tokenUrl = `/dev/token?${new URLSearchParams({ user: userId, role, room: roomId, name: userName })}`;
    const answer = await fetch(tokenUrl, { cache: 'no-store' });
    if (answer.ok) {
        devToken = await answer.json();
        if (typeof devToken.appointmentId === 'number')
            appointmentId = devToken.appointmentId;
    }
    const tokenProvider = devToken
        ? async () => {
            // A fresh one when the one in hand is close to expiry.
            if (devToken.expiresAt - Date.now() < 120000) {
                const r = await fetch(tokenUrl, { cache: 'no-store' });
                if (r.ok)
                    devToken = await r.json();
            }
            return devToken.token;
        }
        : null;

    const client = new MedrelayClient({
        url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
        token: tokenProvider,
        reconnect: { initialDelayMs: retry },
    });
    const call = new Call(client, roomId, role === 'clinician', relayOnly);
    const board = new Board($('board'), client, roomId);
    window.demo = { client, call, board, roomId, userId, chat: [] };

    client.on('connectionstate', (e) => {
        const badge = $('connection');
        badge.dataset.state = e.state;
        badge.textContent = e.state === 'reconnecting' && e.attempt ? `reconnecting (${e.attempt})` : e.state;
    });
    client.on('participants', (room, list) => {
        if (room !== roomId)
            return;
        const ul = $('participants');
        ul.replaceChildren(...list.map((p) => {
            const li = text('li', p.userName || String(p.userId));
            li.append(text('span', p.role ?? '', 'role'));
            if (p.host)
                li.append(text('span', 'host', 'host'));
            if (p.connectionId === client.connectionId)
                li.append(text('span', '(you)', 'role'));
            return li;
        }));
        call.participantsChanged(list.filter((p) => p.connectionId !== client.connectionId));
    });

    // Chat: every line once, whether from history, a replay or live.
    const showChat = (m, mine, pending) => {
        const li = text('li', '', mine ? 'mine' : '');
        li.append(text('span', `${mine ? 'You' : (m.userName || m.userId)}:`, 'from'), m.message);
        if (pending)
            li.classList.add('pending');
        $('chat-log').append(li);
        $('chat-log').scrollTop = $('chat-log').scrollHeight;
        window.demo.chat.push({ message: m.message, mine, seq: m.seq });
        return li;
    };
    client.on('telemedicine_chat_message', (m) => showChat(m, String(m.userId) === userId, false));
    $('chat-form').addEventListener('submit', (event) => {
        event.preventDefault();
        const input = $('chat-input');
        const line = input.value.trim();
        if (!line)
            return;
        input.value = '';
        const li = showChat({ message: line }, true, true);
        client.sendChat(roomId, line).then(
            () => li.classList.remove('pending'),
            (e) => { li.classList.add('failed'); li.title = e.message; });
    });

    // Waiting room.
    const waitingList = $('waiting');
    client.on('admission_request', (m) => {
        const li = text('li', m.userName || String(m.userId));
        li.dataset.connectionId = m.connectionId;
        const admit = text('button', 'Admit');
        admit.type = 'button';
        admit.addEventListener('click', () => client.admit(roomId, m.connectionId));
        const deny = text('button', 'Deny');
        deny.type = 'button';
        deny.addEventListener('click', () => client.deny(roomId, m.connectionId));
        li.append(admit, deny);
        waitingList.append(li);
    });
    client.on('admission_resolved', (m) => {
        waitingList.querySelector(`li[data-connection-id="${CSS.escape(m.connectionId)}"]`)?.remove();
    });
    client.on('room_settings_changed', (m) => { $('waiting-room-toggle').checked = m.waitingRoom; });
    $('waiting-room-toggle').addEventListener('change', (e) => {
        client.setRoomSettings(roomId, { waitingRoom: e.target.checked });
    });
    client.on('waiting', () => notice('Waiting for the clinician to admit you…'));
    client.on('admitted', () => notice(null));
    client.on('denied', () => { notice('The clinician did not admit you to this consultation.', 'bad'); call.stop(); });
    client.on('removed', () => { notice('A host removed you from this consultation.', 'bad'); call.stop(); });
    client.on('room_state', (m) => {
        notice(null);
        $('waiting-room-toggle').checked = m.waitingRoom;
        call.roomStateArrived();
    });
    client.on('ice_servers', (m) => call.setIceServers(m.iceServers));
    client.on('consultation_warning', (m) => notice(`The consultation ends at ${new Date(m.endsAt).toLocaleTimeString()}.`));
    client.on('consultation_ended', () => { notice('The consultation has ended.'); call.stop(); });
    client.on('room_closed', () => { notice('The room was closed.'); call.stop(); });
    client.on('resume_gap', () => notice('Some older messages are no longer available.'));
    client.on('error', (m) => {
        if (m.code !== 'rate_limited')
            notice(`${m.code}: ${m.message}`, 'bad');
    });
    client.on('telemedicine_offer', (m) => call.description(m.offer));
    client.on('telemedicine_answer', (m) => call.description(m.answer));
    client.on('telemedicine_ice_candidate', (m) => call.candidate(m.candidate));
    client.on('telemedicine_user_left', (m) => call.peerLeft(m.connectionId));

    $('end').addEventListener('click', () => client.endConsultation(roomId));
    $('leave').addEventListener('click', () => {
        client.leave(roomId);
        call.stop();
        client.close();
        notice('You left the consultation.');
    });
    $('board-clear').addEventListener('click', () => board.clear());

    await call.startCamera();
    await client.connect();
    const joined = await client.join({ roomId, appointmentId, userId, userName, role });
    if (joined.status === 'waiting')
        notice('Waiting for the clinician to admit you…');
}

// One two-party call. The clinician offers and the patient answers, so the
// two never offer at once (with relay-only ICE, candidates of an offer that
// lost such a race are lost with it). Each of the clinician's peer
// connections has a call id, carried in its offers and both sides'
// candidates: a patient that sees a new call id (the clinician reloaded, or
// the patient came back after the call dropped) starts a new connection.
class Call {
    constructor(client, roomId, offerer, relayOnly) {
        this.client = client;
        this.roomId = roomId;
        this.offerer = offerer;
        this.relayOnly = relayOnly;
        this.iceServers = [];
        this.iceKnown = false;
        this.pc = null;
        this.callId = null;
        this.pendingCandidates = [];
        this.stream = null;
        this.remote = null;
        this.queue = Promise.resolve();
        this.stopped = false;
    }

    async startCamera() {
        try {
            this.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 }, audio: true });
            $('local-video').srcObject = this.stream;
        } catch (e) {
            this.state(`no camera: ${e.message}`);
        }
    }

    state(text) {
        $('call-state').textContent = text;
        this.trace(text);
    }

    // What the call did, in order, for whoever looks into a failed call.
    trace(what) {
        const log = (window.demo.callLog ??= []);
        log.push(`${Math.round(performance.now())} ${what}`);
        if (log.length > 200)
            log.shift();
    }

    config() {
        return { iceServers: this.iceServers, iceTransportPolicy: this.relayOnly ? 'relay' : 'all' };
    }

    // ice_servers follows room_state at once when the server has any; a
    // moment after room_state without it, the call goes ahead without.
    roomStateArrived() {
        if (!this.iceKnown)
            setTimeout(() => { this.iceKnown = true; this.maybeOffer(); }, 300);
        this.maybeOffer();
    }

    setIceServers(servers) {
        this.iceServers = servers ?? [];
        this.iceKnown = true;
        if (this.pc)
            this.pc.setConfiguration(this.config()); // refreshed TURN credentials
        this.maybeOffer();
    }

    participantsChanged(others) {
        const remote = others[0] ?? null;
        // Someone new (not the same connection resuming its place): a new call.
        if (this.offerer && this.pc && remote && this.remote && remote.userId !== this.remote.userId)
            this.closePeer('new participant');
        this.remote = remote;
        this.maybeOffer();
    }

    maybeOffer() {
        if (!this.offerer || this.pc || !this.remote || !this.iceKnown || this.stopped)
            return;
        this.createPeer(`${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
    }

    createPeer(callId) {
        const pc = new RTCPeerConnection(this.config());
        this.pc = pc;
        this.callId = callId;
        this.pendingCandidates = [];
        window.demo.pc = pc;
        this.state('connecting call…');
        this.stream?.getTracks().forEach((t) => pc.addTrack(t, this.stream));
        pc.ontrack = (e) => {
            const video = $('remote-video');
            if (video.srcObject !== e.streams[0])
                video.srcObject = e.streams[0];
        };
        pc.onicecandidate = (e) => {
            if (e.candidate && pc === this.pc)
                this.client.sendIceCandidate(this.roomId, { ...e.candidate.toJSON(), callId });
        };
        pc.onconnectionstatechange = () => {
            if (pc !== this.pc)
                return;
            this.state(`call ${pc.connectionState}`);
            // The clinician starts over after a failed connection.
            if (pc.connectionState === 'failed' && this.offerer) {
                this.closePeer('call failed, retrying');
                setTimeout(() => this.maybeOffer(), 1000);
            }
        };
        if (this.offerer) {
            pc.onnegotiationneeded = async () => {
                try {
                    await pc.setLocalDescription();
                    this.trace(`sending ${pc.localDescription.type}`);
                    this.client.sendOffer(this.roomId, { ...pc.localDescription.toJSON(), callId });
                } catch (e) {
                    this.state(`offer failed: ${e.message}`);
                }
            };
        }
        return pc;
    }

    // Offers, answers and candidates in arrival order.
    description(desc) {
        this.queue = this.queue.then(() => this.onDescription(desc)).catch((e) => this.state(`call error: ${e.message}`));
    }

    candidate(candidate) {
        this.queue = this.queue.then(async () => {
            if (!this.pc || !candidate || candidate.callId !== this.callId)
                return; // for a connection that is gone
            const { callId, ...init } = candidate;
            if (!this.pc.remoteDescription)
                this.pendingCandidates.push(init);
            else
                await this.pc.addIceCandidate(init);
        }).catch((e) => this.trace(`candidate refused: ${e.message}`));
    }

    async onDescription(desc) {
        this.trace(`received ${desc?.type} (signaling ${this.pc?.signalingState ?? 'no peer'})`);
        if (!desc || this.stopped)
            return;
        const { callId, ...init } = desc;
        if (desc.type === 'offer') {
            if (this.offerer)
                return; // the clinician offers, it does not answer
            if (!this.pc || callId !== this.callId) {
                this.closePeer('new call');
                this.createPeer(callId);
            }
        } else if (!this.pc || callId !== this.callId) {
            return; // an answer to an offer of a connection that is gone
        }
        const pc = this.pc;
        await pc.setRemoteDescription(init);
        for (const c of this.pendingCandidates.splice(0))
            await pc.addIceCandidate(c).catch((e) => this.trace(`candidate refused: ${e.message}`));
        if (desc.type === 'offer') {
            await pc.setLocalDescription();
            this.trace('sending answer');
            this.client.sendAnswer(this.roomId, { ...pc.localDescription.toJSON(), callId });
        }
    }

    peerLeft(connectionId) {
        if (this.remote && this.remote.connectionId !== connectionId)
            return;
        this.remote = null;
        this.closePeer('the other side left');
    }

    closePeer(reason) {
        if (this.pc)
            this.pc.close();
        this.pc = null;
        this.callId = null;
        window.demo.pc = null;
        $('remote-video').srcObject = null;
        this.state(reason);
    }

    stop() {
        this.stopped = true;
        this.closePeer('call ended');
        this.stream?.getTracks().forEach((t) => t.stop());
    }
}

// The shared whiteboard: strokes of points in 0..1 coordinates, drawn at
// once locally and sent as whiteboard_update; whiteboard_clear empties it.
class Board {
    constructor(canvas, client, roomId) {
        this.canvas = canvas;
        this.ctx = canvas.getContext('2d');
        this.client = client;
        this.roomId = roomId;
        this.strokes = 0;
        this.current = null;
        canvas.addEventListener('pointerdown', (e) => this.down(e));
        canvas.addEventListener('pointermove', (e) => this.move(e));
        canvas.addEventListener('pointerup', () => this.up());
        canvas.addEventListener('pointerleave', () => this.up());
        client.on('whiteboard_update', (m) => this.draw(m.data));
        client.on('whiteboard_clear', () => this.wipe());
    }

    point(e) {
        const r = this.canvas.getBoundingClientRect();
        const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
        return [round((e.clientX - r.left) / r.width), round((e.clientY - r.top) / r.height)];
    }

    down(e) {
        this.canvas.setPointerCapture?.(e.pointerId);
        this.current = { tool: 'pen', color: '#1f6feb', width: 3, points: [this.point(e)] };
    }

    move(e) {
        if (!this.current)
            return;
        const p = this.point(e);
        const last = this.current.points[this.current.points.length - 1];
        if (p[0] !== last[0] || p[1] !== last[1])
            this.current.points.push(p);
        if (this.current.points.length >= 500)
            this.up();
    }

    up() {
        const stroke = this.current;
        this.current = null;
        if (!stroke || stroke.points.length < 2)
            return;
        this.draw(stroke);
        this.client.sendWhiteboard(this.roomId, stroke).catch(() => {});
    }

    draw(data) {
        if (!data || !Array.isArray(data.points) || data.points.length < 1)
            return;
        const { width, height } = this.canvas;
        const ctx = this.ctx;
        ctx.strokeStyle = typeof data.color === 'string' ? data.color : '#000';
        ctx.lineWidth = Number(data.width) || 2;
        ctx.lineCap = 'round';
        ctx.lineJoin = 'round';
        ctx.beginPath();
        data.points.forEach(([x, y], i) => (i ? ctx.lineTo(x * width, y * height) : ctx.moveTo(x * width, y * height)));
        ctx.stroke();
        this.strokes += 1;
        this.canvas.dataset.strokes = String(this.strokes);
    }

    wipe() {
        this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
        this.strokes = 0;
        this.canvas.dataset.strokes = '0';
    }

    clear() {
        this.wipe();
        this.client.clearWhiteboard(this.roomId).catch(() => {});
    }
}
