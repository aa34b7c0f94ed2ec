#pragma once
// Server-side RFC 6455 framing without QWebSocket: the handshake answer,
// frame encoding (unmasked, as servers send), and an incremental decoder for
// client frames that enforces the protocol rules and our size limits before
// it buffers anything. Plain functions and a value-type decoder, no I/O, so
// the same code serves the epoll transport, tests and fuzzers.

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

namespace medrelay::transport {

enum class Opcode : quint8 {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
};

// Close codes this layer sends or reports (RFC 6455 section 7.4.1).
namespace CloseCode {
inline constexpr quint16 Normal = 1000;
inline constexpr quint16 GoingAway = 1001;
inline constexpr quint16 ProtocolError = 1002;
inline constexpr quint16 UnsupportedData = 1003;
inline constexpr quint16 NoStatus = 1005; // reported only, never sent
inline constexpr quint16 Abnormal = 1006; // reported only, never sent
inline constexpr quint16 InvalidPayload = 1007;
inline constexpr quint16 PolicyViolation = 1008;
inline constexpr quint16 TooBig = 1009;
inline constexpr quint16 InternalError = 1011;
} // namespace CloseCode

namespace WebSocketCodec {

// Largest payload of a control frame (ping, pong, close).
inline constexpr qsizetype MaxControlPayload = 125;

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
[[nodiscard]] QByteArray acceptKey(QByteArrayView secWebSocketKey);
// The whole "101 Switching Protocols" response, ending with the empty line.
[[nodiscard]] QByteArray handshakeResponse(QByteArrayView secWebSocketKey);
// One unmasked frame with FIN set; the length uses the shortest encoding.
// Control frames must carry at most 125 bytes (asserted in debug builds).
[[nodiscard]] QByteArray encodeFrame(Opcode op, QByteArrayView payload);
// A close frame. Codes 0, 1005 and 1006 produce an empty close payload, since
// they must never appear on the wire; the reason is cut to 123 bytes at a
// UTF-8 character boundary.
[[nodiscard]] QByteArray encodeClose(quint16 code, QByteArrayView reasonUtf8);
// Strict UTF-8 check (no overlongs, surrogates or code points past U+10FFFF).
[[nodiscard]] bool isValidUtf8(QByteArrayView data);
// Whether a peer may send this close code (RFC 6455 7.4 plus IANA 1012-1014).
[[nodiscard]] bool isValidReceivedCloseCode(quint16 code);

} // namespace WebSocketCodec

// What the decoder found. Payloads are owned, unmasked copies.
struct DecoderEvent
{
    enum class Type : quint8 { Text, Binary, Ping, Pong, Close, ProtocolError };
    Type type = Type::Text;
    // Close: the peer's code (1005 when it sent none). ProtocolError: the
    // code to close with (1002, 1007 or 1009).
    quint16 closeCode = 0;
    // Text (UTF-8, validated), Binary, Ping and Pong payloads.
    QByteArray payload;
    // Close: the peer's reason. ProtocolError: what was wrong, for logs.
    QString reason;
};

// Decodes frames from a client. Input may arrive split anywhere; only the
// bytes of an unfinished header (at most 14, held inline) and the unmasked
// payload of the unfinished message are kept, so an idle decoder owns no heap
// memory. Frame and message limits are checked from the header, before any
// payload byte is stored. After a Close or ProtocolError event the decoder
// ignores all further input.
class FrameDecoder final
{
public:
    FrameDecoder(qint64 maxFrameSize, qint64 maxMessageSize);
    ~FrameDecoder() = default;
    Q_DISABLE_COPY_MOVE(FrameDecoder)

    // Consumes bytes from the front of `input` until one event is complete
    // (returns true, `event` filled, `input` advanced past that frame) or the
    // input is used up (returns false). Pull-style, so a caller can stop
    // between events (for example when its slot closed the connection) and
    // no event list is allocated.
    bool next(QByteArrayView &input, DecoderEvent &event);
    // Convenience for tests and tools: every event `data` completes.
    [[nodiscard]] QList<DecoderEvent> feed(QByteArrayView data);

    // True after a Close or ProtocolError event.
    [[nodiscard]] bool isFinished() const { return m_phase == Phase::Finished; }
    // Bytes held for unfinished frames and messages.
    [[nodiscard]] qsizetype bufferedBytes() const { return m_headerLen + m_message.size() + m_control.size(); }
    [[nodiscard]] qint64 maxFrameSize() const { return m_maxFrameSize; }
    [[nodiscard]] qint64 maxMessageSize() const { return m_maxMessageSize; }

private:
    enum class Phase : quint8 { Header, Payload, Finished };

    bool parseHeader(QByteArrayView &input, DecoderEvent &event);
    bool completeFrame(DecoderEvent &event);
    bool fail(DecoderEvent &event, quint16 code, const QString &reason);

    qint64 m_maxFrameSize = 0;
    qint64 m_maxMessageSize = 0;
    QByteArray m_message; // unmasked payload of the unfinished data message
    QByteArray m_control; // unmasked payload of the unfinished control frame
    quint64 m_remaining = 0; // payload bytes of the current frame still to come
    quint32 m_mask = 0; // masking key, in wire byte order
    quint8 m_maskOffset = 0; // position in the key of the next payload byte
    quint8 m_header[14] = {};
    quint8 m_headerLen = 0;
    quint8 m_opcode = 0; // current frame
    quint8 m_messageOpcode = 0; // Text or Binary while a message is open, else 0
    bool m_fin = false;
    Phase m_phase = Phase::Header;
};

} // namespace medrelay::transport
