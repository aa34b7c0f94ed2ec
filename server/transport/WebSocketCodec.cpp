#include "transport/WebSocketCodec.h"

#include <QCryptographicHash>
#include <QtEndian>

#include <cstring>

using namespace Qt::StringLiterals;

namespace medrelay::transport {

namespace {

constexpr QByteArrayView kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

constexpr quint8 kFin = 0x80;
constexpr quint8 kRsvMask = 0x70;
constexpr quint8 kOpcodeMask = 0x0F;
constexpr quint8 kMaskBit = 0x80;
constexpr quint8 kLen16 = 126;
constexpr quint8 kLen64 = 127;

bool isControl(quint8 opcode)
{
    return (opcode & 0x08) != 0;
}

bool isKnownOpcode(quint8 opcode)
{
    switch (opcode) {
    case 0x0:
    case 0x1:
    case 0x2:
    case 0x8:
    case 0x9:
    case 0xA:
        return true;
    default:
        return false;
    }
}

// XORs `data` with the 4-byte key, starting at key byte `offset`; returns the
// key offset after the last byte. Works a machine word at a time once the
// key is aligned, since payloads of a few KiB are the common case.
quint8 unmask(char *data, qsizetype size, quint32 key, quint8 offset)
{
    quint8 keyBytes[4];
    std::memcpy(keyBytes, &key, 4);
    qsizetype i = 0;
    while (i < size && (offset & 3) != 0) {
        data[i] = static_cast<char>(static_cast<quint8>(data[i]) ^ keyBytes[offset & 3]);
        ++i;
        ++offset;
    }
    // offset is now a multiple of 4: the key repeats from byte 0.
    quint64 wide = 0;
    std::memcpy(&wide, keyBytes, 4);
    std::memcpy(reinterpret_cast<char *>(&wide) + 4, keyBytes, 4);
    for (; i + 8 <= size; i += 8) {
        quint64 word = 0;
        std::memcpy(&word, data + i, 8);
        word ^= wide;
        std::memcpy(data + i, &word, 8);
    }
    for (; i < size; ++i) {
        data[i] = static_cast<char>(static_cast<quint8>(data[i]) ^ keyBytes[offset & 3]);
        ++offset;
    }
    return static_cast<quint8>(offset & 3);
}

qsizetype headerSize(qsizetype payloadSize)
{
    if (payloadSize < kLen16)
        return 2;
    if (payloadSize <= 0xFFFF)
        return 4;
    return 10;
}

// Writes a server frame header (no mask) and returns its length.
qsizetype writeHeader(char *out, quint8 opcode, qsizetype payloadSize)
{
    out[0] = static_cast<char>(kFin | opcode);
    if (payloadSize < kLen16) {
        out[1] = static_cast<char>(payloadSize);
        return 2;
    }
    if (payloadSize <= 0xFFFF) {
        out[1] = static_cast<char>(kLen16);
        qToBigEndian(static_cast<quint16>(payloadSize), out + 2);
        return 4;
    }
    out[1] = static_cast<char>(kLen64);
    qToBigEndian(static_cast<quint64>(payloadSize), out + 2);
    return 10;
}

} // namespace

namespace WebSocketCodec {

QByteArray acceptKey(QByteArrayView secWebSocketKey)
{
    QCryptographicHash hash(QCryptographicHash::Sha1);
    hash.addData(secWebSocketKey.trimmed());
    hash.addData(kGuid);
    return hash.result().toBase64();
}

QByteArray handshakeResponse(QByteArrayView secWebSocketKey)
{
    QByteArray response;
    response.reserve(129);
    response.append("HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: ");
    response.append(acceptKey(secWebSocketKey));
    response.append("\r\n\r\n");
    return response;
}

QByteArray encodeFrame(Opcode op, QByteArrayView payload)
{
    const auto opcode = static_cast<quint8>(op);
    Q_ASSERT(!isControl(opcode) || payload.size() <= MaxControlPayload);
    const qsizetype head = headerSize(payload.size());
    QByteArray frame(head + payload.size(), Qt::Uninitialized);
    char *out = frame.data();
    writeHeader(out, opcode, payload.size());
    if (!payload.isEmpty())
        std::memcpy(out + head, payload.data(), static_cast<size_t>(payload.size()));
    return frame;
}

QByteArray encodeClose(quint16 code, QByteArrayView reasonUtf8)
{
    if (code == 0 || code == CloseCode::NoStatus || code == CloseCode::Abnormal)
        return encodeFrame(Opcode::Close, {});
    qsizetype reasonSize = qMin<qsizetype>(reasonUtf8.size(), MaxControlPayload - 2);
    // Do not cut a multi-byte character in half: back up over continuation bytes.
    if (reasonSize < reasonUtf8.size()) {
        while (reasonSize > 0 && (static_cast<quint8>(reasonUtf8[reasonSize]) & 0xC0) == 0x80)
            --reasonSize;
    }
    char payload[MaxControlPayload];
    qToBigEndian(code, payload);
    if (reasonSize > 0)
        std::memcpy(payload + 2, reasonUtf8.data(), static_cast<size_t>(reasonSize));
    return encodeFrame(Opcode::Close, QByteArrayView(payload, 2 + reasonSize));
}

bool isValidUtf8(QByteArrayView data)
{
    const auto *p = reinterpret_cast<const quint8 *>(data.data());
    const auto *end = p + data.size();
    while (p < end) {
        // ASCII runs are the common case for JSON: check 8 bytes at once.
        if (end - p >= 8) {
            quint64 word = 0;
            std::memcpy(&word, p, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                p += 8;
                continue;
            }
        }
        const quint8 c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        qsizetype need = 0;
        quint8 lo = 0x80;
        quint8 hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; // overlong
            else if (c == 0xED)
                hi = 0x9F; // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; // overlong
            else if (c == 0xF4)
                hi = 0x8F; // past U+10FFFF
        } else {
            return false;
        }
        if (end - p <= need)
            return false;
        // Only the first continuation byte has a narrowed range.
        if (p[1] < lo || p[1] > hi)
            return false;
        for (qsizetype k = 2; k <= need; ++k) {
            if ((p[k] & 0xC0) != 0x80)
                return false;
        }
        p += need + 1;
    }
    return true;
}

bool isValidReceivedCloseCode(quint16 code)
{
    if (code >= 3000 && code <= 4999)
        return true;
    switch (code) {
    case 1000:
    case 1001:
    case 1002:
    case 1003:
    case 1007:
    case 1008:
    case 1009:
    case 1010:
    case 1011:
    case 1012:
    case 1013:
    case 1014:
        return true;
    default:
        return false;
    }
}

} // namespace WebSocketCodec

FrameDecoder::FrameDecoder(qint64 maxFrameSize, qint64 maxMessageSize)
    : m_maxFrameSize(maxFrameSize)
    , m_maxMessageSize(maxMessageSize)
{
}

QList<DecoderEvent> FrameDecoder::feed(QByteArrayView data)
{
    QList<DecoderEvent> events;
    DecoderEvent event;
    while (next(data, event))
        events.append(std::exchange(event, DecoderEvent{}));
    return events;
}

bool FrameDecoder::fail(DecoderEvent &event, quint16 code, const QString &reason)
{
    m_phase = Phase::Finished;
    m_message = QByteArray();
    m_control = QByteArray();
    m_headerLen = 0;
    m_remaining = 0;
    event.type = DecoderEvent::Type::ProtocolError;
    event.closeCode = code;
    event.payload = QByteArray();
    event.reason = reason;
    return true;
}

bool FrameDecoder::next(QByteArrayView &input, DecoderEvent &event)
{
    for (;;) {
        switch (m_phase) {
        case Phase::Finished:
            input = {};
            return false;
        case Phase::Header:
            if (!parseHeader(input, event))
                return false; // header incomplete: all input consumed
            if (m_phase == Phase::Finished)
                return true; // parseHeader reported a protocol error
            break;
        case Phase::Payload:
            break;
        }

        QByteArray &target = isControl(m_opcode) ? m_control : m_message;
        const auto take = static_cast<qsizetype>(qMin<quint64>(m_remaining, static_cast<quint64>(input.size())));
        if (take > 0) {
            const qsizetype old = target.size();
            // append() grows geometrically, so a message arriving in many
            // small reads or frames is copied O(n) times in total, not O(n^2).
            target.append(input.data(), take);
            m_maskOffset = unmask(target.data() + old, take, m_mask, m_maskOffset);
            input = input.sliced(take);
            m_remaining -= static_cast<quint64>(take);
        }
        if (m_remaining > 0)
            return false; // payload incomplete: all input consumed
        m_phase = Phase::Header;
        if (completeFrame(event))
            return true;
    }
}

bool FrameDecoder::parseHeader(QByteArrayView &input, DecoderEvent &event)
{
    auto pull = [&](qsizetype want) {
        const qsizetype n = qMin<qsizetype>(want - m_headerLen, input.size());
        if (n > 0) {
            std::memcpy(m_header + m_headerLen, input.data(), static_cast<size_t>(n));
            m_headerLen = static_cast<quint8>(m_headerLen + n);
            input = input.sliced(n);
        }
        return m_headerLen >= want;
    };

    if (!pull(2))
        return false;
    const quint8 b0 = m_header[0];
    const quint8 b1 = m_header[1];
    const quint8 opcode = b0 & kOpcodeMask;
    const bool fin = (b0 & kFin) != 0;
    const quint8 len7 = b1 & 0x7F;
    // These checks need only the first two bytes; failing early means a
    // malformed stream never makes us wait for or store more of it.
    if ((b0 & kRsvMask) != 0)
        return fail(event, CloseCode::ProtocolError, u"reserved bits set without a negotiated extension"_s);
    if (!isKnownOpcode(opcode))
        return fail(event, CloseCode::ProtocolError, u"unknown opcode %1"_s.arg(opcode));
    if ((b1 & kMaskBit) == 0)
        return fail(event, CloseCode::ProtocolError, u"client frame not masked"_s);
    if (isControl(opcode)) {
        if (!fin)
            return fail(event, CloseCode::ProtocolError, u"fragmented control frame"_s);
        if (len7 > WebSocketCodec::MaxControlPayload)
            return fail(event, CloseCode::ProtocolError, u"control frame payload over 125 bytes"_s);
    } else if (opcode == 0) {
        if (m_messageOpcode == 0)
            return fail(event, CloseCode::ProtocolError, u"continuation frame without a message"_s);
    } else if (m_messageOpcode != 0) {
        return fail(event, CloseCode::ProtocolError, u"new message before the previous one finished"_s);
    }

    const qsizetype extra = len7 == kLen16 ? 2 : (len7 == kLen64 ? 8 : 0);
    const qsizetype full = 2 + extra + 4;
    if (!pull(full))
        return false;

    quint64 length = len7;
    if (len7 == kLen16) {
        length = qFromBigEndian<quint16>(m_header + 2);
    } else if (len7 == kLen64) {
        length = qFromBigEndian<quint64>(m_header + 2);
        if ((length >> 63) != 0)
            return fail(event, CloseCode::ProtocolError, u"64-bit length with the top bit set"_s);
    }
    if (!isControl(opcode)) {
        if (length > static_cast<quint64>(m_maxFrameSize))
            return fail(event, CloseCode::TooBig,
                        u"frame of %1 bytes exceeds the limit of %2"_s.arg(length).arg(m_maxFrameSize));
        if (length + static_cast<quint64>(m_message.size()) > static_cast<quint64>(m_maxMessageSize))
            return fail(event, CloseCode::TooBig, u"message exceeds the limit of %1 bytes"_s.arg(m_maxMessageSize));
        if (opcode != 0)
            m_messageOpcode = opcode;
    }
    std::memcpy(&m_mask, m_header + 2 + extra, 4);
    m_maskOffset = 0;
    m_remaining = length;
    m_opcode = opcode;
    m_fin = fin;
    m_headerLen = 0;
    m_phase = Phase::Payload;
    return true;
}

bool FrameDecoder::completeFrame(DecoderEvent &event)
{
    event.closeCode = 0;
    event.reason.clear();
    switch (static_cast<Opcode>(m_opcode)) {
    case Opcode::Ping:
        event.type = DecoderEvent::Type::Ping;
        event.payload = std::exchange(m_control, QByteArray());
        return true;
    case Opcode::Pong:
        event.type = DecoderEvent::Type::Pong;
        event.payload = std::exchange(m_control, QByteArray());
        return true;
    case Opcode::Close: {
        const QByteArray body = std::exchange(m_control, QByteArray());
        if (body.size() == 1)
            return fail(event, CloseCode::ProtocolError, u"close frame with a 1-byte payload"_s);
        quint16 code = CloseCode::NoStatus;
        if (body.size() >= 2) {
            code = qFromBigEndian<quint16>(body.constData());
            if (!WebSocketCodec::isValidReceivedCloseCode(code))
                return fail(event, CloseCode::ProtocolError, u"invalid close code %1"_s.arg(code));
            const QByteArrayView reason = QByteArrayView(body).sliced(2);
            if (!WebSocketCodec::isValidUtf8(reason))
                return fail(event, CloseCode::InvalidPayload, u"close reason is not valid UTF-8"_s);
            event.reason = QString::fromUtf8(reason);
        }
        m_phase = Phase::Finished;
        m_message = QByteArray();
        event.type = DecoderEvent::Type::Close;
        event.closeCode = code;
        event.payload = QByteArray();
        return true;
    }
    case Opcode::Continuation:
    case Opcode::Text:
    case Opcode::Binary:
        break;
    }
    if (!m_fin)
        return false; // more fragments to come
    const bool text = m_messageOpcode == static_cast<quint8>(Opcode::Text);
    m_messageOpcode = 0;
    if (text && !WebSocketCodec::isValidUtf8(m_message))
        return fail(event, CloseCode::InvalidPayload, u"text message is not valid UTF-8"_s);
    event.type = text ? DecoderEvent::Type::Text : DecoderEvent::Type::Binary;
    event.payload = std::exchange(m_message, QByteArray());
    return true;
}

} // namespace medrelay::transport
