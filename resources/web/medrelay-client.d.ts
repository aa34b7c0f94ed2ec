// Types of medrelay-client.js: the messages of docs/PROTOCOL.md and the
// client's API, so editors complete them.

export type UserId = string | number;

export type ConnectionStateName = 'connecting' | 'connected' | 'reconnecting' | 'offline';
export type RoomStatus = 'joining' | 'waiting' | 'admitted' | 'joined' | 'denied' | 'left' | 'removed' | 'ended'
    | 'closed';

export declare const ConnectionState: {
    readonly Connecting: 'connecting';
    readonly Connected: 'connected';
    readonly Reconnecting: 'reconnecting';
    readonly Offline: 'offline';
};

export declare const ClientKind: {
    readonly Join: 'telemedicine_user_joined';
    readonly Leave: 'telemedicine_user_left';
    readonly Offer: 'telemedicine_offer';
    readonly Answer: 'telemedicine_answer';
    readonly IceCandidate: 'telemedicine_ice_candidate';
    readonly Chat: 'telemedicine_chat_message';
    readonly WhiteboardUpdate: 'whiteboard_update';
    readonly WhiteboardClear: 'whiteboard_clear';
    readonly Auth: 'auth';
    readonly RoomSettings: 'room_settings';
    readonly Admit: 'admit';
    readonly Deny: 'deny';
    readonly RemoveParticipant: 'remove_participant';
    readonly EndConsultation: 'end_consultation';
};

export declare const ServerKind: {
    readonly RoomState: 'room_state';
    readonly RoomClosed: 'room_closed';
    readonly AuthOk: 'auth_ok';
    readonly Error: 'error';
    readonly Ack: 'ack';
    readonly ResumeGap: 'resume_gap';
    readonly Waiting: 'waiting';
    readonly AdmissionRequest: 'admission_request';
    readonly AdmissionResolved: 'admission_resolved';
    readonly Admitted: 'admitted';
    readonly Denied: 'denied';
    readonly Removed: 'removed';
    readonly Left: 'left';
    readonly RoomSettingsChanged: 'room_settings_changed';
    readonly ConsultationEnded: 'consultation_ended';
    readonly ConsultationWarning: 'consultation_warning';
    readonly IceServers: 'ice_servers';
};

/** The fields the server sets on everything it relays or announces. */
export interface Stamped {
    roomId: string;
    timestamp: number;
    from: string;
    fromConnectionId: string;
    connectionId: string;
    userId: UserId;
    userName: string;
    role?: string;
}

export interface Participant {
    connectionId: string;
    userId: UserId;
    userName: string;
    role?: string;
    joinedAt: number;
    host?: boolean;
    away?: boolean;
}

export interface ChatMessage extends Stamped {
    type: 'telemedicine_chat_message';
    appointmentId: number | string;
    message: string;
    seq: number;
    clientMessageId?: string;
    [extra: string]: unknown;
}

export interface WhiteboardUpdate extends Stamped {
    type: 'whiteboard_update';
    data: unknown;
    seq: number;
    clientMessageId?: string;
    [extra: string]: unknown;
}

export interface WhiteboardClear extends Stamped {
    type: 'whiteboard_clear';
    seq: number;
    clientMessageId?: string;
    [extra: string]: unknown;
}

export type StoredMessage = ChatMessage | WhiteboardUpdate | WhiteboardClear;

export interface SignalMessage<T extends string, F extends string> extends Stamped {
    type: T;
    appointmentId: number | string;
    to?: UserId;
    [extra: string]: unknown;
}
export type OfferMessage = SignalMessage<'telemedicine_offer', 'offer'> & { offer: RTCSessionDescriptionLike };
export type AnswerMessage = SignalMessage<'telemedicine_answer', 'answer'> & { answer: RTCSessionDescriptionLike };
export type IceCandidateMessage = SignalMessage<'telemedicine_ice_candidate', 'candidate'>
    & { candidate: RTCIceCandidateLike };

export interface RTCSessionDescriptionLike { type: string; sdp?: string }
export interface RTCIceCandidateLike {
    candidate: string;
    sdpMid?: string | null;
    sdpMLineIndex?: number | null;
    usernameFragment?: string | null;
}
export interface IceServer { urls: string | string[]; username?: string; credential?: string }

export interface UserJoined extends Stamped { type: 'telemedicine_user_joined'; appointmentId: number | string }
export interface UserLeft extends Stamped {
    type: 'telemedicine_user_left';
    appointmentId: number | string;
    reason: 'left' | 'disconnected' | 'timeout' | 'removed' | 'grant_revoked';
}

export interface RoomState {
    type: 'room_state';
    roomId: string;
    appointmentId: number;
    connectionId: string;
    participants: Participant[];
    timestamp: number;
    lastSeq: number;
    waitingRoom: boolean;
    locked: boolean;
    recentChat: ChatMessage[];
    whiteboard: WhiteboardUpdate[];
    requestId?: string | number;
}

export interface ErrorMessage {
    type: 'error';
    code: string;
    message: string;
    requestId?: string | number;
}

export interface IceServersMessage {
    type: 'ice_servers';
    iceServers: IceServer[];
    /** When the TURN credentials expire (ms since the epoch); absent without TURN. */
    expiresAt?: number;
}

export interface ServerMessages {
    room_state: RoomState;
    room_closed: { type: 'room_closed'; roomId: string; appointmentId: number; reason: string; timestamp: number };
    auth_ok: { type: 'auth_ok'; connectionId: string; userId: UserId; role: string; expiresAt: number;
               requestId?: string | number };
    error: ErrorMessage;
    ack: { type: 'ack'; roomId: string; clientMessageId: string; seq: number };
    resume_gap: { type: 'resume_gap'; roomId: string; requestedAfter: number; oldestAvailable: number };
    waiting: { type: 'waiting'; roomId: string; requestId?: string | number };
    admission_request: { type: 'admission_request'; roomId: string; connectionId: string; userId: UserId;
                         userName: string };
    admission_resolved: { type: 'admission_resolved'; roomId: string; connectionId: string;
                          decision: 'admitted' | 'denied' | 'cancelled' };
    admitted: { type: 'admitted'; roomId: string };
    denied: { type: 'denied'; roomId: string };
    removed: { type: 'removed'; roomId: string; by: UserId };
    left: { type: 'left'; roomId: string; reason: string };
    room_settings_changed: { type: 'room_settings_changed'; roomId: string; waitingRoom: boolean; locked: boolean;
                             by: UserId; requestId?: string | number };
    consultation_ended: { type: 'consultation_ended'; roomId: string; endedBy: UserId; reason: string; at: number };
    consultation_warning: { type: 'consultation_warning'; roomId: string; endsAt: number };
    ice_servers: IceServersMessage;
    telemedicine_user_joined: UserJoined;
    telemedicine_user_left: UserLeft;
    telemedicine_offer: OfferMessage;
    telemedicine_answer: AnswerMessage;
    telemedicine_ice_candidate: IceCandidateMessage;
    telemedicine_chat_message: ChatMessage;
    whiteboard_update: WhiteboardUpdate;
    whiteboard_clear: WhiteboardClear;
}

/** Where a message came from: the live connection (with a replay after a resume), or room_state's history. */
export interface MessageMeta { source: 'live' | 'history'; resumed?: boolean }

export interface ConnectionStateEvent {
    state: ConnectionStateName;
    previous: ConnectionStateName;
    /** Reconnecting: the attempt number and the wait before it. */
    attempt?: number;
    delayMs?: number;
    /** The close that led here, when one did. */
    code?: number;
    reason?: string;
}

export interface ClientEvents {
    connectionstate: (event: ConnectionStateEvent) => void;
    close: (close: { code: number; reason: string }) => void;
    /** Every server message, after its own event. */
    message: (message: { type: string; [field: string]: unknown }) => void;
    /** A room's participants changed (join, leave, room_state). */
    participants: (roomId: string, participants: Participant[]) => void;
}

export type EventHandler<K> = K extends keyof ServerMessages
    ? (message: ServerMessages[K], meta: MessageMeta) => void
    : K extends keyof ClientEvents ? ClientEvents[K] : never;

export interface ReconnectOptions {
    /** First wait after a lost connection (default 500 ms). */
    initialDelayMs?: number;
    /** Longest wait (default 15000 ms). */
    maxDelayMs?: number;
    /** Growth per attempt (default 2). */
    factor?: number;
    /** Share of each wait taken off at random, 0-1 (default 0.5). */
    jitter?: number;
    /** Attempts in a row before going offline (default: no limit). */
    maxAttempts?: number;
}

export interface MedrelayClientOptions {
    /** ws://host:port/ws or wss://host/ws */
    url: string;
    /** A signed token, or a function that returns one (called for each connection and before expiry). */
    token?: string | null | (() => string | Promise<string>);
    /** 'query' (?access_token=, the default) or 'message' (an auth message first). */
    tokenTransport?: 'query' | 'message';
    /** The WebSocket class (in Node: the ws package); default globalThis.WebSocket. */
    WebSocket?: unknown;
    reconnect?: ReconnectOptions;
    /** Stored messages kept per room for history() and de-duplication (default 2000). */
    historyLimit?: number;
    /** Prefix of this client's clientMessageId and requestId values. */
    clientIdPrefix?: string;
    /** Random source for the backoff's jitter (tests). */
    random?: () => number;
}

export interface JoinOptions {
    roomId: string;
    appointmentId: number | string;
    /** Without authentication only: the identity this connection claims. */
    userId?: UserId;
    userName?: string;
    role?: string;
    /** Resume from this seq (the client does this by itself after reconnects). */
    lastSeq?: number;
}

export type JoinResult = { status: 'joined'; state: RoomState } | { status: 'waiting' };

export interface RoomInfo {
    roomId: string;
    appointmentId: number | string;
    status: RoomStatus;
    lastSeq: number;
    participants: Participant[];
    waitingRoom: boolean;
    locked: boolean;
    connectionId: string | null;
}

export interface Stored { roomId: string; clientMessageId: string; seq: number }

export declare class MedrelayError extends Error {
    constructor(code: string, message: string, detail?: unknown);
    /** The server's error code (forbidden, not_member, ...) or closed, denied, left, ... */
    code: string;
    detail?: unknown;
}

export declare class MedrelayClient {
    constructor(options: MedrelayClientOptions);

    readonly state: ConnectionStateName;
    readonly connectionId: string | null;
    readonly iceServers: IceServer[] | null;
    readonly iceServersExpireAt: number | null;
    readonly lastClose: { code: number; reason: string } | null;
    readonly rooms: RoomInfo[];

    on<K extends keyof ServerMessages | keyof ClientEvents>(type: K, handler: EventHandler<K>): () => void;
    once<K extends keyof ServerMessages | keyof ClientEvents>(type: K, handler: EventHandler<K>): () => void;
    off<K extends keyof ServerMessages | keyof ClientEvents>(type: K, handler: EventHandler<K>): void;

    connect(): Promise<void>;
    close(code?: number, reason?: string): void;
    refreshToken(token?: string): Promise<ServerMessages['auth_ok']>;

    join(options: JoinOptions): Promise<JoinResult>;
    leave(roomId: string): boolean;
    room(roomId: string): RoomInfo | null;
    history(roomId: string): StoredMessage[];
    pending(roomId?: string): Array<{ type: string; roomId: string; clientMessageId: string }>;

    sendOffer(roomId: string, offer: RTCSessionDescriptionLike, to?: UserId): boolean;
    sendAnswer(roomId: string, answer: RTCSessionDescriptionLike, to?: UserId): boolean;
    sendIceCandidate(roomId: string, candidate: RTCIceCandidateLike, to?: UserId): boolean;
    sendChat(roomId: string, text: string, extra?: Record<string, unknown>): Promise<Stored>;
    sendWhiteboard(roomId: string, data: unknown, extra?: Record<string, unknown>): Promise<Stored>;
    clearWhiteboard(roomId: string, extra?: Record<string, unknown>): Promise<Stored>;

    setRoomSettings(roomId: string, settings: { waitingRoom?: boolean; locked?: boolean }): boolean;
    admit(roomId: string, connectionId: string): boolean;
    deny(roomId: string, connectionId: string): boolean;
    removeParticipant(roomId: string, connectionId: string): boolean;
    endConsultation(roomId: string): boolean;

    /** Sends any message as it is; false when not connected. */
    send(message: { type: string; [field: string]: unknown }): boolean;
}
