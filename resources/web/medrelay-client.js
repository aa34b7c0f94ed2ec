// medrelay-client.js: the browser (and Node) client of the medrelay relay
// server. One dependency-free ES module; types in medrelay-client.d.ts.
//
// What it does for an application:
// - connects with a token (in the URL, or in an `auth` message), and keeps a
//   connection-state the UI can show: connecting, connected, reconnecting,
//   offline;
// - reconnects by itself with exponential backoff and jitter, joins its rooms
//   again with the last `seq` it saw (`lastSeq`) and so receives what it
//   missed, exactly once: chat and whiteboard messages are keyed on `seq`, so
//   one that is both in room_state's recentChat/whiteboard and in the replay
//   is delivered once;
// - sends chat and whiteboard messages with a `clientMessageId` and keeps
//   them until the server acknowledges them, resending unacknowledged ones
//   after a reconnect (the server drops duplicates);
// - follows the waiting room (waiting, admitted, denied) and the ICE servers
//   the server hands out (ice_servers, refreshed before TURN credentials
//   expire);
// - has a helper for every message a client can send.
//
// In Node, pass the `ws` package's WebSocket: new MedrelayClient({url,
// WebSocket}).

/** Wire names of the messages a client sends. */
export const ClientKind = Object.freeze({
    Join: 'telemedicine_user_joined',
    Leave: 'telemedicine_user_left',
    Offer: 'telemedicine_offer',
    Answer: 'telemedicine_answer',
    IceCandidate: 'telemedicine_ice_candidate',
    Chat: 'telemedicine_chat_message',
    WhiteboardUpdate: 'whiteboard_update',
    WhiteboardClear: 'whiteboard_clear',
    Auth: 'auth',
    RoomSettings: 'room_settings',
    Admit: 'admit',
    Deny: 'deny',
    RemoveParticipant: 'remove_participant',
    EndConsultation: 'end_consultation',
});

/** Wire names of the messages only the server sends. */
export const ServerKind = Object.freeze({
    RoomState: 'room_state',
    RoomClosed: 'room_closed',
    AuthOk: 'auth_ok',
    Error: 'error',
    Ack: 'ack',
    ResumeGap: 'resume_gap',
    Waiting: 'waiting',
    AdmissionRequest: 'admission_request',
    AdmissionResolved: 'admission_resolved',
    Admitted: 'admitted',
    Denied: 'denied',
    Removed: 'removed',
    Left: 'left',
    RoomSettingsChanged: 'room_settings_changed',
    ConsultationEnded: 'consultation_ended',
    ConsultationWarning: 'consultation_warning',
    IceServers: 'ice_servers',
});

/** The states of the connection, in the `connectionstate` event. */
export const ConnectionState = Object.freeze({
    Connecting: 'connecting',
    Connected: 'connected',
    Reconnecting: 'reconnecting',
    Offline: 'offline',
});

const STORED = new Set([ClientKind.Chat, ClientKind.WhiteboardUpdate, ClientKind.WhiteboardClear]);
// Rooms whose place this client keeps and joins again after a reconnect.
const REJOIN = new Set(['joining', 'waiting', 'admitted', 'joined']);
// Close codes after which coming back would not help (or is not wanted):
// a clean close, an administrator's disconnect, automatic logoff. 4001 and
// 4002 (token refused or expired) are retried only with a token provider.
const FINAL_CLOSE = new Set([1000, 4003, 4004]);
const TOKEN_CLOSE = new Set([4001, 4002]);

/** An error answer of the server, or a failure of this client. */
export class MedrelayError extends Error {
    /**
     * @param {string} code  the server's error code (e.g. `forbidden`) or one of this client's
     * @param {string} message
     * @param {object} [detail]  the server's error message, when there was one
     */
    constructor(code, message, detail) {
        super(message);
        this.name = 'MedrelayError';
        this.code = code;
        this.detail = detail;
    }
}

class Emitter {
    constructor() {
        /** @type {Map<string, Set<Function>>} */
        this._handlers = new Map();
    }

    /** Adds a handler; returns a function that removes it. */
    on(type, handler) {
        if (!this._handlers.has(type))
            this._handlers.set(type, new Set());
        this._handlers.get(type).add(handler);
        return () => this.off(type, handler);
    }

    /** Adds a handler called once. */
    once(type, handler) {
        const off = this.on(type, (...args) => {
            off();
            handler(...args);
        });
        return off;
    }

    off(type, handler) {
        this._handlers.get(type)?.delete(handler);
    }

    _emit(type, ...args) {
        const handlers = this._handlers.get(type);
        if (!handlers)
            return;
        for (const h of [...handlers]) {
            try {
                h(...args);
            } catch (e) {
                // A failing handler must not break the client; report it the
                // way an uncaught error in an event handler would be.
                setTimeout(() => { throw e; }, 0);
            }
        }
    }
}

function randomId() {
    const bytes = new Uint8Array(8);
    if (globalThis.crypto?.getRandomValues)
        globalThis.crypto.getRandomValues(bytes);
    else
        for (let i = 0; i < bytes.length; ++i)
            bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// The `exp` of a JWT in ms, or 0 (the token is not read otherwise).
function tokenExpiry(token) {
    try {
        const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
        const json = typeof atob === 'function' ? atob(part) : globalThis.Buffer.from(part, 'base64').toString();
        const exp = JSON.parse(json).exp;
        return typeof exp === 'number' ? exp * 1000 : 0;
    } catch {
        return 0;
    }
}

class Room {
    constructor(roomId, joinOptions) {
        this.roomId = roomId;
        this.joinOptions = joinOptions;
        this.appointmentId = joinOptions.appointmentId;
        /** @type {'joining'|'waiting'|'admitted'|'joined'|'denied'|'left'|'removed'|'ended'|'closed'} */
        this.status = 'joining';
        this.everJoined = false;
        this.lastSeq = 0;
        this.participants = [];
        this.waitingRoom = false;
        this.locked = false;
        this.connectionId = null;
        this.seen = new Set();   // seqs delivered (or acknowledged) here
        this.floorSeq = 0;       // seqs at or below were dropped from `history`: seen
        this.history = [];       // stored messages, by seq
        this.joinWaiters = [];   // {resolve, reject} of join() calls
        this.joinRequestId = null;
    }

    info() {
        return {
            roomId: this.roomId,
            appointmentId: this.appointmentId,
            status: this.status,
            lastSeq: this.lastSeq,
            participants: this.participants.slice(),
            waitingRoom: this.waitingRoom,
            locked: this.locked,
            connectionId: this.connectionId,
        };
    }
}

export class MedrelayClient extends Emitter {
    /**
     * @param {import('./medrelay-client').MedrelayClientOptions} options
     */
    constructor(options) {
        super();
        if (!options || typeof options.url !== 'string')
            throw new TypeError('MedrelayClient needs options.url (ws://host:port/ws)');
        this._url = options.url;
        this._token = options.token ?? null;
        this._tokenTransport = options.tokenTransport ?? 'query';
        this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
        if (typeof this._WebSocket !== 'function')
            throw new TypeError('no WebSocket: pass options.WebSocket (in Node: the ws package)');
        const r = options.reconnect ?? {};
        this._backoff = {
            initialDelayMs: r.initialDelayMs ?? 500,
            maxDelayMs: r.maxDelayMs ?? 15000,
            factor: r.factor ?? 2,
            jitter: r.jitter ?? 0.5,
            maxAttempts: r.maxAttempts ?? Infinity,
        };
        this._random = options.random ?? Math.random;
        this._historyLimit = options.historyLimit ?? 2000;
        this._idPrefix = `${options.clientIdPrefix ?? 'm'}-${randomId()}`;
        this._counter = 0;

        this._state = ConnectionState.Offline;
        this._ws = null;
        this._wanted = false;        // connect() called and not close()d
        this._attempt = 0;
        this._reconnectTimer = null;
        this._refreshTimer = null;
        this._everConnected = false;
        this._connectionId = null;
        this._userId = null;
        this._iceServers = null;
        this._iceExpiresAt = null;
        this._authRequestId = null;
        /** @type {Map<string, Room>} */
        this._rooms = new Map();
        /** @type {Map<string, object>} clientMessageId -> pending stored message */
        this._outbox = new Map();
        this._connectWaiters = [];
        this._lastClose = null;

        this._onOnline = () => {
            if (this._state === ConnectionState.Reconnecting && this._reconnectTimer) {
                clearTimeout(this._reconnectTimer);
                this._reconnectTimer = null;
                this._open();
            }
        };
    }

    // ------------------------------------------------------------ state

    /** @returns {'connecting'|'connected'|'reconnecting'|'offline'} */
    get state() { return this._state; }
    /** This connection's id (from room_state or auth_ok), or null. */
    get connectionId() { return this._connectionId; }
    /** The latest ICE servers the server gave (RTCIceServer[]), or null before any. */
    get iceServers() { return this._iceServers; }
    /** When the TURN credentials in iceServers expire (ms since the epoch), or null. */
    get iceServersExpireAt() { return this._iceExpiresAt; }
    /** The close of the last connection: {code, reason}, or null. */
    get lastClose() { return this._lastClose; }

    /** A room's state as this client knows it, or null. */
    room(roomId) {
        return this._rooms.get(roomId)?.info() ?? null;
    }

    /** The rooms this client is in or waiting for. */
    get rooms() {
        return [...this._rooms.values()].map((r) => r.info());
    }

    /** The stored messages (chat, whiteboard) of a room seen so far, in seq order. */
    history(roomId) {
        return (this._rooms.get(roomId)?.history ?? []).slice();
    }

    /** Chat and whiteboard messages sent and not yet acknowledged. */
    pending(roomId) {
        return [...this._outbox.values()]
            .filter((e) => roomId === undefined || e.message.roomId === roomId)
            .map((e) => ({ ...e.message }));
    }

    // ------------------------------------------------------------ connection

    /**
     * Connects (once; later calls return the same wait). Resolves when the
     * connection is open (and authenticated); rejects if the client goes
     * offline first.
     */
    connect() {
        if (this._state === ConnectionState.Connected)
            return Promise.resolve();
        const wait = new Promise((resolve, reject) => this._connectWaiters.push({ resolve, reject }));
        if (!this._wanted) {
            this._wanted = true;
            globalThis.addEventListener?.('online', this._onOnline);
            this._open();
        }
        return wait;
    }

    /** Closes the connection for good (state offline); rooms are left. */
    close(code = 1000, reason = 'client closed') {
        this._wanted = false;
        globalThis.removeEventListener?.('online', this._onOnline);
        clearTimeout(this._reconnectTimer);
        clearTimeout(this._refreshTimer);
        this._reconnectTimer = null;
        const ws = this._ws;
        this._ws = null;
        if (ws) {
            try { ws.close(code, reason); } catch { /* already closing */ }
        }
        for (const room of this._rooms.values())
            this._dropRoom(room, 'left', new MedrelayError('closed', 'the client was closed'));
        this._setState(ConnectionState.Offline, { code, reason });
        this._settleConnect(new MedrelayError('closed', 'the client was closed'));
    }

    async _open() {
        this._reconnectTimer = null;
        if (!this._wanted)
            return;
        this._setState(this._everConnected ? ConnectionState.Reconnecting : ConnectionState.Connecting,
                       { attempt: this._attempt });
        let token = null;
        try {
            token = typeof this._token === 'function' ? await this._token() : this._token;
        } catch (e) {
            this._emit('error', { type: 'error', code: 'token_unavailable', message: String(e?.message ?? e) });
            this._scheduleReconnect({ code: 0, reason: 'no token' });
            return;
        }
        if (!this._wanted)
            return;
        let url = this._url;
        if (token && this._tokenTransport === 'query')
            url += `${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
        let ws;
        try {
            ws = new this._WebSocket(url);
        } catch (e) {
            this._scheduleReconnect({ code: 0, reason: String(e?.message ?? e) });
            return;
        }
        this._ws = ws;
        ws.onopen = () => {
            if (ws !== this._ws)
                return;
            if (token && this._tokenTransport === 'message') {
                this._authRequestId = this._nextId('auth');
                this._sendRaw({ type: ClientKind.Auth, token, requestId: this._authRequestId });
            } else {
                this._connected(token);
            }
        };
        ws.onmessage = (event) => {
            if (ws !== this._ws)
                return;
            const data = typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data);
            let message;
            try {
                message = JSON.parse(data);
            } catch {
                return;
            }
            if (message && typeof message === 'object' && typeof message.type === 'string')
                this._dispatch(message, token);
        };
        ws.onclose = (event) => {
            if (ws !== this._ws)
                return;
            this._ws = null;
            this._closed({ code: event.code, reason: event.reason ?? '' });
        };
        ws.onerror = () => { /* a close event follows */ };
    }

    _connected(token) {
        this._attempt = 0;
        this._everConnected = true;
        this._setState(ConnectionState.Connected);
        this._scheduleTokenRefresh(token);
        // Back in every room it held, with what it saw last.
        for (const room of this._rooms.values()) {
            if (REJOIN.has(room.status))
                this._sendJoin(room);
        }
        this._settleConnect(null);
    }

    _closed(close) {
        this._lastClose = close;
        clearTimeout(this._refreshTimer);
        for (const room of this._rooms.values()) {
            if (room.status === 'joined' || room.status === 'admitted')
                room.status = 'joining';
        }
        for (const entry of this._outbox.values())
            entry.sentOn = null;
        this._emit('close', close);
        if (!this._wanted)
            return;
        const withProvider = typeof this._token === 'function';
        if (FINAL_CLOSE.has(close.code) || (TOKEN_CLOSE.has(close.code) && !withProvider)) {
            this._wanted = false;
            this._setState(ConnectionState.Offline, close);
            this._settleConnect(new MedrelayError('closed', `connection closed: ${close.code} ${close.reason}`,
                                                  close));
            return;
        }
        this._scheduleReconnect(close);
    }

    _scheduleReconnect(close) {
        if (!this._wanted)
            return;
        if (this._attempt >= this._backoff.maxAttempts) {
            this._wanted = false;
            this._setState(ConnectionState.Offline, close);
            this._settleConnect(new MedrelayError('unreachable', 'gave up reconnecting', close));
            return;
        }
        const b = this._backoff;
        const base = Math.min(b.maxDelayMs, b.initialDelayMs * Math.pow(b.factor, this._attempt));
        const delayMs = Math.round(base * (1 - b.jitter * this._random()));
        this._attempt += 1;
        this._setState(ConnectionState.Reconnecting, { ...close, attempt: this._attempt, delayMs });
        this._reconnectTimer = setTimeout(() => this._open(), delayMs);
    }

    _setState(state, detail = {}) {
        const previous = this._state;
        if (previous === state && state !== ConnectionState.Reconnecting)
            return;
        this._state = state;
        this._emit('connectionstate', { state, previous, ...detail });
    }

    _settleConnect(error) {
        const waiters = this._connectWaiters;
        this._connectWaiters = [];
        for (const w of waiters)
            error ? w.reject(error) : w.resolve();
    }

    _scheduleTokenRefresh(token) {
        clearTimeout(this._refreshTimer);
        if (typeof this._token !== 'function' || !token)
            return;
        const exp = tokenExpiry(token);
        if (!exp)
            return;
        // A fresh token well before this one expires (the server closes with
        // 4002 when it does).
        const left = exp - Date.now();
        const delay = Math.max(1000, Math.min(left - 30000, left * 0.8));
        this._refreshTimer = setTimeout(() => { this.refreshToken().catch(() => {}); }, delay);
    }

    /**
     * Sends a fresh token (the given one, or the provider's) in an `auth`
     * message; resolves with auth_ok.
     */
    async refreshToken(token) {
        const fresh = token ?? (typeof this._token === 'function' ? await this._token() : this._token);
        if (!fresh)
            throw new MedrelayError('no_token', 'no token to send');
        if (token !== undefined && typeof this._token !== 'function')
            this._token = token;
        const requestId = this._nextId('auth');
        const reply = this._awaitReply(requestId, ServerKind.AuthOk);
        if (!this._sendRaw({ type: ClientKind.Auth, token: fresh, requestId }))
            throw new MedrelayError('not_connected', 'not connected');
        const ok = await reply;
        this._scheduleTokenRefresh(fresh);
        return ok;
    }

    // ------------------------------------------------------------ rooms

    /**
     * Joins a room. Resolves with {status: 'joined', state} once room_state
     * arrives, or {status: 'waiting'} when a host must admit this client
     * first (then `admitted` and `room_state` follow, or `denied`).
     */
    join(options) {
        if (!options || typeof options.roomId !== 'string')
            return Promise.reject(new TypeError('join needs {roomId, appointmentId}'));
        let room = this._rooms.get(options.roomId);
        if (!room || !REJOIN.has(room.status)) {
            room = new Room(options.roomId, { ...options });
            if (options.lastSeq !== undefined)
                room.lastSeq = options.lastSeq;
            this._rooms.set(room.roomId, room);
        }
        const done = new Promise((resolve, reject) => room.joinWaiters.push({ resolve, reject }));
        if (this._state === ConnectionState.Connected)
            this._sendJoin(room);
        else if (!this._wanted)
            this.connect().catch(() => {});
        return done;
    }

    _sendJoin(room) {
        const o = room.joinOptions;
        const join = { type: ClientKind.Join, roomId: room.roomId, appointmentId: o.appointmentId };
        for (const key of ['userId', 'userName', 'role'])
            if (o[key] !== undefined)
                join[key] = o[key];
        if (room.everJoined || o.lastSeq !== undefined)
            join.lastSeq = room.lastSeq;
        room.joinRequestId = this._nextId('join');
        join.requestId = room.joinRequestId;
        if (room.status !== 'waiting')
            room.status = 'joining';
        this._sendRaw(join);
    }

    /** Leaves a room (or stops waiting for it). */
    leave(roomId) {
        const room = this._rooms.get(roomId);
        if (room)
            this._dropRoom(room, 'left', new MedrelayError('left', `left room '${roomId}'`));
        return this._sendRaw({ type: ClientKind.Leave, roomId, appointmentId: room?.appointmentId });
    }

    _dropRoom(room, status, error) {
        room.status = status;
        this._rooms.delete(room.roomId);
        for (const w of room.joinWaiters.splice(0))
            w.reject(error);
        for (const [id, entry] of this._outbox) {
            if (entry.message.roomId === room.roomId) {
                this._outbox.delete(id);
                entry.reject(error);
            }
        }
    }

    // ------------------------------------------------------------ sending

    _nextId(kind) {
        this._counter += 1;
        return `${this._idPrefix}-${kind}-${this._counter}`;
    }

    _sendRaw(message) {
        const ws = this._ws;
        if (!ws || ws.readyState !== 1)
            return false;
        ws.send(JSON.stringify(message));
        return true;
    }

    /** Sends any message as it is; false when not connected. */
    send(message) {
        return this._sendRaw(message);
    }

    _roomMessage(roomId, type, fields) {
        const room = this._rooms.get(roomId);
        const message = { type, roomId, ...fields };
        if (room && room.appointmentId !== undefined && message.appointmentId === undefined)
            message.appointmentId = room.appointmentId;
        return message;
    }

    // Signalling is not stored: sent now or not at all.
    _signal(roomId, type, field, value, to) {
        const message = this._roomMessage(roomId, type, { [field]: value });
        if (to !== undefined && to !== null)
            message.to = to;
        return this._sendRaw(message);
    }

    /** Relays an SDP offer to the room, or to one participant (`to`: connection or user id). */
    sendOffer(roomId, offer, to) { return this._signal(roomId, ClientKind.Offer, 'offer', plain(offer), to); }
    /** Relays an SDP answer. */
    sendAnswer(roomId, answer, to) { return this._signal(roomId, ClientKind.Answer, 'answer', plain(answer), to); }
    /** Relays an ICE candidate. */
    sendIceCandidate(roomId, candidate, to) {
        return this._signal(roomId, ClientKind.IceCandidate, 'candidate', plain(candidate), to);
    }

    // Chat and whiteboard: kept until acknowledged, resent after reconnects.
    _reliable(roomId, type, fields) {
        const clientMessageId = this._nextId('msg');
        const message = this._roomMessage(roomId, type, { ...fields, clientMessageId, requestId: clientMessageId });
        return new Promise((resolve, reject) => {
            const entry = { message, resolve, reject, sentOn: null };
            this._outbox.set(clientMessageId, entry);
            this._flushOne(entry);
        });
    }

    _flushOne(entry) {
        const room = this._rooms.get(entry.message.roomId);
        if (!room || room.status !== 'joined' || entry.sentOn === this._ws)
            return;
        if (this._sendRaw(entry.message))
            entry.sentOn = this._ws;
    }

    _flushRoom(roomId) {
        for (const entry of this._outbox.values()) {
            if (entry.message.roomId === roomId)
                this._flushOne(entry);
        }
    }

    /** Sends a chat line; resolves with its {seq} once the server stored it. */
    sendChat(roomId, text, extra = {}) {
        return this._reliable(roomId, ClientKind.Chat, { ...extra, message: text });
    }
    /** Sends a whiteboard update (any JSON but null); resolves with its {seq}. */
    sendWhiteboard(roomId, data, extra = {}) {
        return this._reliable(roomId, ClientKind.WhiteboardUpdate, { ...extra, data });
    }
    /** Clears the shared whiteboard; resolves with its {seq}. */
    clearWhiteboard(roomId, extra = {}) {
        return this._reliable(roomId, ClientKind.WhiteboardClear, { ...extra });
    }

    // Host commands (answered with `error` when refused).
    /** Turns the waiting room or the lock on or off (hosts). */
    setRoomSettings(roomId, settings) {
        return this._sendRaw({ type: ClientKind.RoomSettings, roomId, ...settings,
                               requestId: this._nextId('settings') });
    }
    /** Admits a waiting guest (hosts). */
    admit(roomId, connectionId) { return this._sendRaw({ type: ClientKind.Admit, roomId, connectionId }); }
    /** Refuses a waiting guest (hosts). */
    deny(roomId, connectionId) { return this._sendRaw({ type: ClientKind.Deny, roomId, connectionId }); }
    /** Removes a participant for the rest of the consultation (hosts). */
    removeParticipant(roomId, connectionId) {
        return this._sendRaw({ type: ClientKind.RemoveParticipant, roomId, connectionId });
    }
    /** Ends the consultation for everyone (hosts). */
    endConsultation(roomId) { return this._sendRaw({ type: ClientKind.EndConsultation, roomId }); }

    _awaitReply(requestId, type) {
        return new Promise((resolve, reject) => {
            const offs = [];
            const done = () => offs.forEach((off) => off());
            offs.push(this.on(type, (m) => { if (m.requestId === requestId) { done(); resolve(m); } }));
            offs.push(this.on('error', (m) => {
                if (m.requestId === requestId) {
                    done();
                    reject(new MedrelayError(m.code, m.message, m));
                }
            }));
            offs.push(this.on('close', (c) => {
                done();
                reject(new MedrelayError('closed', `connection closed: ${c.code}`, c));
            }));
        });
    }

    // ------------------------------------------------------------ receiving

    _dispatch(m, token) {
        const room = typeof m.roomId === 'string' ? this._rooms.get(m.roomId) : undefined;
        switch (m.type) {
        case ServerKind.AuthOk:
            this._connectionId = m.connectionId ?? this._connectionId;
            this._userId = m.userId ?? this._userId;
            if (m.requestId === this._authRequestId && this._state !== ConnectionState.Connected) {
                this._authRequestId = null;
                this._emit(m.type, m);
                this._connected(token);
                return;
            }
            break;
        case ServerKind.RoomState:
            if (!this._roomState(m))
                return;
            break;
        case ServerKind.Waiting:
            if (room) {
                room.status = 'waiting';
                for (const w of room.joinWaiters.splice(0))
                    w.resolve({ status: 'waiting' });
            }
            break;
        case ServerKind.Admitted:
            if (room)
                room.status = 'admitted';
            break;
        case ServerKind.Denied:
            if (room)
                this._dropRoom(room, 'denied', new MedrelayError('denied', 'a host denied entry'));
            break;
        case ServerKind.Removed:
        case ServerKind.Left:
        case ServerKind.ConsultationEnded:
        case ServerKind.RoomClosed:
            if (room) {
                const status = { removed: 'removed', left: 'left', consultation_ended: 'ended' }[m.type] ?? 'closed';
                this._dropRoom(room, status, new MedrelayError(m.type, `room '${m.roomId}': ${m.type}`, m));
            }
            break;
        case ServerKind.Ack:
            this._ack(m);
            break;
        case ServerKind.IceServers:
            this._iceServers = Array.isArray(m.iceServers) ? m.iceServers : [];
            this._iceExpiresAt = typeof m.expiresAt === 'number' ? m.expiresAt : null;
            break;
        case ServerKind.RoomSettingsChanged:
            if (room) {
                room.waitingRoom = !!m.waitingRoom;
                room.locked = !!m.locked;
            }
            break;
        case ServerKind.Error:
            if (this._error(m))
                return;
            break;
        case ClientKind.Join:
            if (room)
                this._participantJoined(room, m);
            break;
        case ClientKind.Leave:
            if (room) {
                room.participants = room.participants.filter((p) => p.connectionId !== m.connectionId);
                this._emit('participants', room.roomId, room.participants.slice());
            }
            break;
        default:
            if (STORED.has(m.type) && room && !this._acceptStored(room, m))
                return; // seen already
        }
        this._emit(m.type, m, { source: 'live' });
        this._emit('message', m);
    }

    _roomState(m) {
        let room = this._rooms.get(m.roomId);
        if (!room) {
            // A room_state for a room this client does not hold (left meanwhile).
            return true;
        }
        this._connectionId = m.connectionId ?? this._connectionId;
        const firstTime = !room.everJoined;
        room.status = 'joined';
        room.everJoined = true;
        room.appointmentId = m.appointmentId ?? room.appointmentId;
        room.connectionId = m.connectionId;
        room.participants = Array.isArray(m.participants) ? m.participants.slice() : [];
        room.waitingRoom = !!m.waitingRoom;
        room.locked = !!m.locked;
        const mine = room.participants.find((p) => p.connectionId === m.connectionId);
        if (mine)
            this._userId = mine.userId;
        if (typeof m.lastSeq === 'number' && m.lastSeq < room.lastSeq)
            this._resetHistory(room); // the room's history restarted
        this._emit(m.type, m, { source: 'live', resumed: !firstTime });
        this._emit('message', m);
        this._emit('participants', room.roomId, room.participants.slice());
        // The snapshot's messages not seen yet, once each, in seq order.
        const snapshot = [...(m.recentChat ?? []), ...(m.whiteboard ?? [])]
            .filter((s) => s && typeof s.seq === 'number')
            .sort((a, b) => a.seq - b.seq);
        for (const s of snapshot) {
            if (this._acceptStored(room, s))
                this._emit(s.type, s, { source: 'history' });
        }
        if (typeof m.lastSeq === 'number')
            room.lastSeq = Math.max(room.lastSeq, m.lastSeq);
        for (const w of room.joinWaiters.splice(0))
            w.resolve({ status: 'joined', state: m });
        this._flushRoom(room.roomId);
        return false;
    }

    _participantJoined(room, m) {
        room.participants = room.participants.filter((p) => p.connectionId !== m.connectionId);
        const p = { connectionId: m.connectionId, userId: m.userId, userName: m.userName, joinedAt: m.timestamp };
        if (m.role !== undefined)
            p.role = m.role;
        room.participants.push(p);
        this._emit('participants', room.roomId, room.participants.slice());
    }

    _resetHistory(room) {
        room.seen.clear();
        room.history = [];
        room.floorSeq = 0;
        room.lastSeq = 0;
    }

    // Records a stored message; false when it was delivered before (or it is
    // this client's own, not yet acknowledged, message coming back).
    _acceptStored(room, m) {
        const seq = m.seq;
        if (typeof seq !== 'number')
            return true;
        if (seq <= room.floorSeq || room.seen.has(seq))
            return false;
        const own = typeof m.clientMessageId === 'string' ? this._outbox.get(m.clientMessageId) : undefined;
        if (own && own.message.roomId === room.roomId) {
            // Stored before the connection dropped, its ack lost: done.
            this._ack({ type: ServerKind.Ack, roomId: room.roomId, clientMessageId: m.clientMessageId, seq });
            return false;
        }
        this._record(room, m);
        return true;
    }

    _record(room, m) {
        room.seen.add(m.seq);
        room.lastSeq = Math.max(room.lastSeq, m.seq);
        const h = room.history;
        if (h.length === 0 || h[h.length - 1].seq < m.seq) {
            h.push(m);
        } else {
            let i = h.length;
            while (i > 0 && h[i - 1].seq > m.seq)
                --i;
            h.splice(i, 0, m);
        }
        while (h.length > this._historyLimit) {
            const dropped = h.shift();
            room.seen.delete(dropped.seq);
            room.floorSeq = Math.max(room.floorSeq, dropped.seq);
        }
    }

    _ack(m) {
        const entry = this._outbox.get(m.clientMessageId);
        if (!entry)
            return;
        this._outbox.delete(m.clientMessageId);
        const room = this._rooms.get(entry.message.roomId);
        const stored = { ...entry.message, seq: m.seq };
        delete stored.requestId;
        if (this._userId !== null)
            stored.userId = this._userId;
        if (this._connectionId)
            stored.connectionId = this._connectionId;
        if (room && !room.seen.has(m.seq) && m.seq > room.floorSeq)
            this._record(room, stored);
        entry.resolve({ roomId: entry.message.roomId, clientMessageId: m.clientMessageId, seq: m.seq });
    }

    // An error that answers a request of this client; true when handled here
    // (it is still emitted as `error` when nothing waited for it).
    _error(m) {
        if (m.requestId === undefined)
            return false;
        for (const room of this._rooms.values()) {
            if (room.joinRequestId === m.requestId) {
                const error = new MedrelayError(m.code, m.message, m);
                const waiters = room.joinWaiters.splice(0);
                // A join that cannot be done (again) gives the room up.
                this._dropRoom(room, 'left', error);
                for (const w of waiters)
                    w.reject(error);
                this._emit('error', m);
                return true;
            }
        }
        const entry = this._outbox.get(m.requestId);
        if (entry) {
            this._outbox.delete(m.requestId);
            entry.reject(new MedrelayError(m.code, m.message, m));
        }
        return false;
    }
}

// RTCSessionDescription and RTCIceCandidate as plain JSON objects.
function plain(value) {
    return value && typeof value.toJSON === 'function' ? value.toJSON() : value;
}
