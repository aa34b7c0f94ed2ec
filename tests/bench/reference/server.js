'use strict';
// Reference relay for the benchmarks: the original Node design (ws, one
// process, rooms in maps) reduced to the protocol medrelay is compatible with.
// It is what medrelay's figures are compared against, so it does the same work
// the original did and no more: parse each message once, serialise each relay
// once, send the same string to every recipient.
//
// Usage: node server.js [--port N] [--host H] [--backlog N] [--tls-cert FILE --tls-key FILE]
// (port 0 = ephemeral). --backlog is the listen backlog; Node's default is
// 511, medrelay's 4096, and the benchmark suite gives both the same. With a
// certificate it serves https:// and wss:// (the original's stack behind TLS:
// Node's https module), for the wss:// benchmarks.

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(arg('--port', process.env.WS_PORT || 9003));
const host = arg('--host', '127.0.0.1');
const backlog = Number(arg('--backlog', 511));
const PING_INTERVAL_MS = 30000;
const MAX_PAYLOAD = 1024 * 1024;

const connections = new Map(); // connectionId -> { ws, id, roomId, userId, userName, role, joinedAt, alive }
const rooms = new Map();       // roomId -> { id, appointmentId, members: Set<conn>, lastActivity }
let nextConnectionId = 1;

function now() { return new Date().toISOString(); }

function sendError(conn, code, message, requestId) {
  const e = { type: 'error', code, message };
  if (requestId !== undefined) e.requestId = requestId;
  conn.ws.send(JSON.stringify(e));
}

function leaveRoom(conn) {
  const room = conn.roomId ? rooms.get(conn.roomId) : undefined;
  if (!room) { conn.roomId = null; return; }
  room.members.delete(conn);
  conn.roomId = null;
  if (room.members.size === 0) {
    rooms.delete(room.id);
    return;
  }
  const text = JSON.stringify({
    type: 'telemedicine_user_left', roomId: room.id, appointmentId: room.appointmentId,
    userId: conn.userId, userName: conn.userName, connectionId: conn.id, timestamp: now(),
  });
  for (const m of room.members) m.ws.send(text);
}

function handleJoin(conn, msg) {
  if (typeof msg.roomId !== 'string' || msg.roomId.length === 0) {
    return sendError(conn, 'invalid_message', 'roomId is required', msg.requestId);
  }
  if (conn.roomId && conn.roomId !== msg.roomId) leaveRoom(conn);
  let room = rooms.get(msg.roomId);
  if (!room) {
    room = { id: msg.roomId, appointmentId: msg.appointmentId, members: new Set(), lastActivity: Date.now() };
    rooms.set(room.id, room);
  }
  conn.roomId = room.id;
  conn.userId = msg.userId;
  conn.userName = msg.userName;
  conn.role = msg.role || 'participant';
  conn.joinedAt = now();
  room.members.add(conn);
  room.lastActivity = Date.now();

  const participants = [];
  for (const m of room.members) {
    participants.push({ connectionId: m.id, userId: m.userId, userName: m.userName, role: m.role, joinedAt: m.joinedAt });
  }
  conn.ws.send(JSON.stringify({
    type: 'room_state', roomId: room.id, appointmentId: room.appointmentId,
    connectionId: conn.id, participants, timestamp: now(),
  }));
  const text = JSON.stringify(Object.assign({}, msg, { connectionId: conn.id, timestamp: now() }));
  for (const m of room.members) if (m !== conn) m.ws.send(text);
}

function relay(conn, msg, targeted) {
  const room = rooms.get(msg.roomId);
  if (!room || conn.roomId !== room.id) {
    return sendError(conn, 'not_in_room', 'join the room first', msg.requestId);
  }
  room.lastActivity = Date.now();
  const out = Object.assign({}, msg, { timestamp: now() });
  if (targeted) {
    out.from = conn.userId;
    out.fromConnectionId = conn.id;
  } else {
    out.userId = conn.userId;
    out.userName = conn.userName;
  }
  const text = JSON.stringify(out);
  const to = targeted && msg.to !== undefined && msg.to !== null ? String(msg.to) : null;
  for (const m of room.members) {
    if (m === conn) continue;
    if (to !== null && String(m.userId) !== to && m.id !== to) continue;
    m.ws.send(text);
  }
}

function handleMessage(conn, data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch (e) {
    return sendError(conn, 'invalid_json', 'message is not JSON');
  }
  if (msg === null || typeof msg !== 'object') return sendError(conn, 'invalid_message', 'not an object');
  switch (msg.type) {
    case 'telemedicine_user_joined': return handleJoin(conn, msg);
    case 'telemedicine_user_left': return leaveRoom(conn);
    case 'telemedicine_offer':
    case 'telemedicine_answer':
    case 'telemedicine_ice_candidate': return relay(conn, msg, true);
    case 'telemedicine_chat_message':
    case 'whiteboard_update': return relay(conn, msg, false);
    default: return sendError(conn, 'unknown_type', 'unknown message type', msg.requestId);
  }
}

const tlsCert = arg('--tls-cert', '');
const tlsKey = arg('--tls-key', '');
const onRequest = (req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'healthy', timestamp: now(), uptime: process.uptime(),
      connections: connections.size, rooms: rooms.size }));
    return;
  }
  res.writeHead(404, { 'Content-Type': 'application/json' });
  res.end('{"error":"not found"}');
};
const httpServer = tlsCert
  ? https.createServer({ cert: fs.readFileSync(tlsCert), key: fs.readFileSync(tlsKey) }, onRequest)
  : http.createServer(onRequest);

const wss = new WebSocketServer({ server: httpServer, path: '/ws', maxPayload: MAX_PAYLOAD, perMessageDeflate: false });

wss.on('connection', (ws) => {
  const conn = { ws, id: 'conn_' + (nextConnectionId++), roomId: null, userId: null, userName: null,
    role: null, joinedAt: null, alive: true };
  connections.set(conn.id, conn);
  ws.on('message', (data, isBinary) => { if (!isBinary) handleMessage(conn, data.toString()); });
  ws.on('pong', () => { conn.alive = true; });
  ws.on('close', () => { leaveRoom(conn); connections.delete(conn.id); });
  ws.on('error', () => {});
});

const heartbeat = setInterval(() => {
  for (const conn of connections.values()) {
    if (!conn.alive) { conn.ws.terminate(); continue; }
    conn.alive = false;
    conn.ws.ping();
  }
}, PING_INTERVAL_MS);

httpServer.listen({ port, host, backlog }, () => {
  console.log(`reference listening on ${host}:${httpServer.address().port}`);
});

function shutdown() {
  clearInterval(heartbeat);
  for (const conn of connections.values()) conn.ws.close(1001, 'server shutting down');
  wss.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
