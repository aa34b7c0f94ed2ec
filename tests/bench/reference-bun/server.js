'use strict';
// Second reference relay for the benchmarks: the same protocol subset as the
// Node reference (../reference/server.js), written the way Bun.serve is meant
// to be used. Each room is a pub/sub topic: a member subscribes on join and a
// relay to "everyone else in the room" is one ws.publish(), which uWebSockets
// (inside Bun) fans out natively without calling back into JavaScript per
// recipient. Targeted signalling (`to`) is sent to the matching member only.
// Like the Node reference it parses each message once and serialises each
// relay once; it checks no tokens and applies no limits but the frame size.
//
// Usage: bun server.js [--port N] [--host H]   (port 0 = ephemeral)
// Bun's listen backlog is fixed (512); it has no option to change it.

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(arg('--port', process.env.WS_PORT || 9003));
const host = arg('--host', '127.0.0.1');
const MAX_PAYLOAD = 1024 * 1024;

const connections = new Map(); // connectionId -> ws (ws.data holds the participant)
const rooms = new Map();       // roomId -> { id, appointmentId, members: Set<ws>, lastActivity }
let nextConnectionId = 1;
const startedAt = Date.now();

function now() { return new Date().toISOString(); }

function sendError(ws, code, message, requestId) {
  const e = { type: 'error', code, message };
  if (requestId !== undefined) e.requestId = requestId;
  ws.send(JSON.stringify(e));
}

// Removes the participant from its room; the others are told. `open` is false
// when the socket is already closed (Bun then has unsubscribed it itself).
function leaveRoom(ws, open) {
  const p = ws.data;
  const room = p.roomId ? rooms.get(p.roomId) : undefined;
  p.roomId = null;
  if (!room) return;
  room.members.delete(ws);
  if (open) ws.unsubscribe(room.id);
  if (room.members.size === 0) {
    rooms.delete(room.id);
    return;
  }
  server.publish(room.id, JSON.stringify({
    type: 'telemedicine_user_left', roomId: room.id, appointmentId: room.appointmentId,
    userId: p.userId, userName: p.userName, connectionId: p.id, timestamp: now(),
  }));
}

function handleJoin(ws, msg) {
  if (typeof msg.roomId !== 'string' || msg.roomId.length === 0) {
    return sendError(ws, 'invalid_message', 'roomId is required', msg.requestId);
  }
  const p = ws.data;
  if (p.roomId && p.roomId !== msg.roomId) leaveRoom(ws, true);
  let room = rooms.get(msg.roomId);
  if (!room) {
    room = { id: msg.roomId, appointmentId: msg.appointmentId, members: new Set(), lastActivity: Date.now() };
    rooms.set(room.id, room);
  }
  p.roomId = room.id;
  p.userId = msg.userId;
  p.userName = msg.userName;
  p.role = msg.role || 'participant';
  p.joinedAt = now();
  room.members.add(ws);
  room.lastActivity = Date.now();
  ws.subscribe(room.id);

  const participants = [];
  for (const m of room.members) {
    const d = m.data;
    participants.push({ connectionId: d.id, userId: d.userId, userName: d.userName, role: d.role, joinedAt: d.joinedAt });
  }
  ws.send(JSON.stringify({
    type: 'room_state', roomId: room.id, appointmentId: room.appointmentId,
    connectionId: p.id, participants, timestamp: now(),
  }));
  ws.publish(room.id, JSON.stringify(Object.assign({}, msg, { connectionId: p.id, timestamp: now() })));
}

function relay(ws, msg, targeted) {
  const p = ws.data;
  const room = rooms.get(msg.roomId);
  if (!room || p.roomId !== room.id) {
    return sendError(ws, 'not_in_room', 'join the room first', msg.requestId);
  }
  room.lastActivity = Date.now();
  const out = Object.assign({}, msg, { timestamp: now() });
  if (targeted) {
    out.from = p.userId;
    out.fromConnectionId = p.id;
  } else {
    out.userId = p.userId;
    out.userName = p.userName;
  }
  const text = JSON.stringify(out);
  const to = targeted && msg.to !== undefined && msg.to !== null ? String(msg.to) : null;
  if (to === null) {
    ws.publish(room.id, text); // every subscriber but the sender
    return;
  }
  for (const m of room.members) {
    if (m === ws) continue;
    if (String(m.data.userId) !== to && m.data.id !== to) continue;
    m.send(text);
  }
}

function handleMessage(ws, data) {
  let msg;
  try {
    msg = JSON.parse(data);
  } catch (e) {
    return sendError(ws, 'invalid_json', 'message is not JSON');
  }
  if (msg === null || typeof msg !== 'object') return sendError(ws, 'invalid_message', 'not an object');
  switch (msg.type) {
    case 'telemedicine_user_joined': return handleJoin(ws, msg);
    case 'telemedicine_user_left': return leaveRoom(ws, true);
    case 'telemedicine_offer':
    case 'telemedicine_answer':
    case 'telemedicine_ice_candidate': return relay(ws, msg, true);
    case 'telemedicine_chat_message':
    case 'whiteboard_update': return relay(ws, msg, false);
    default: return sendError(ws, 'unknown_type', 'unknown message type', msg.requestId);
  }
}

const server = Bun.serve({
  hostname: host,
  port,
  fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === '/ws') {
      const participant = { id: 'conn_' + (nextConnectionId++), roomId: null, userId: null, userName: null,
        role: null, joinedAt: null };
      if (srv.upgrade(req, { data: participant })) return undefined;
      return new Response('{"error":"upgrade failed"}', { status: 400, headers: { 'Content-Type': 'application/json' } });
    }
    if (url.pathname === '/health') {
      return Response.json({ status: 'healthy', timestamp: now(), uptime: (Date.now() - startedAt) / 1000,
        connections: connections.size, rooms: rooms.size });
    }
    return new Response('{"error":"not found"}', { status: 404, headers: { 'Content-Type': 'application/json' } });
  },
  websocket: {
    maxPayloadLength: MAX_PAYLOAD,
    perMessageDeflate: false,
    // Bun pings idle sockets itself and closes those that stay silent; the
    // Node reference pings every 30 s and drops after a missed pong.
    idleTimeout: 60,
    sendPings: true,
    open(ws) { connections.set(ws.data.id, ws); },
    message(ws, data) { if (typeof data === 'string') handleMessage(ws, data); },
    close(ws) { leaveRoom(ws, false); connections.delete(ws.data.id); },
  },
});

console.log(`reference (bun ${Bun.version}) listening on ${host}:${server.port}`);

function shutdown() {
  for (const ws of connections.values()) ws.close(1001, 'server shutting down');
  server.stop();
  setTimeout(() => process.exit(0), 500).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
