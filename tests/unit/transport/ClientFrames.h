#pragma once
// Test helpers that play the client: build masked (or deliberately broken)
// client frames, and parse the unmasked frames a server sends.

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QtEndian>

namespace medrelay::transport::test {

struct FrameSpec
{
    quint8 opcode = 1;
    bool fin = true;
    bool masked = true;
    quint8 rsv = 0; // bits 0x70
    quint32 maskKey = 0x37FA213D;
};

inline QByteArray clientFrame(QByteArrayView payload, const FrameSpec &spec = {})
{
    QByteArray frame;
    frame.append(static_cast<char>((spec.fin ? 0x80 : 0) | spec.rsv | spec.opcode));
    const quint8 maskBit = spec.masked ? 0x80 : 0;
    const qsizetype size = payload.size();
    if (size < 126) {
        frame.append(static_cast<char>(maskBit | size));
    } else if (size <= 0xFFFF) {
        frame.append(static_cast<char>(maskBit | 126));
        char ext[2];
        qToBigEndian(static_cast<quint16>(size), ext);
        frame.append(ext, 2);
    } else {
        frame.append(static_cast<char>(maskBit | 127));
        char ext[8];
        qToBigEndian(static_cast<quint64>(size), ext);
        frame.append(ext, 8);
    }
    char key[4];
    qToBigEndian(spec.maskKey, key);
    if (spec.masked)
        frame.append(key, 4);
    for (qsizetype i = 0; i < size; ++i) {
        const char c = payload[i];
        frame.append(spec.masked ? static_cast<char>(c ^ key[i % 4]) : c);
    }
    return frame;
}

inline QByteArray clientFrame(quint8 opcode, QByteArrayView payload, bool fin = true)
{
    FrameSpec spec;
    spec.opcode = opcode;
    spec.fin = fin;
    return clientFrame(payload, spec);
}

inline QByteArray closePayload(quint16 code, QByteArrayView reason = {})
{
    char buf[2];
    qToBigEndian(code, buf);
    QByteArray payload(buf, 2);
    payload.append(reason);
    return payload;
}

struct ServerFrame
{
    quint8 opcode = 0;
    bool fin = false;
    QByteArray payload;
};

// Takes every complete unmasked frame from the front of `buffer`.
inline QList<ServerFrame> takeServerFrames(QByteArray &buffer)
{
    QList<ServerFrame> frames;
    qsizetype pos = 0;
    for (;;) {
        if (buffer.size() - pos < 2)
            break;
        const auto b0 = static_cast<quint8>(buffer[pos]);
        const auto b1 = static_cast<quint8>(buffer[pos + 1]);
        qsizetype head = 2;
        quint64 length = b1 & 0x7F;
        if (length == 126) {
            if (buffer.size() - pos < 4)
                break;
            length = qFromBigEndian<quint16>(buffer.constData() + pos + 2);
            head = 4;
        } else if (length == 127) {
            if (buffer.size() - pos < 10)
                break;
            length = qFromBigEndian<quint64>(buffer.constData() + pos + 2);
            head = 10;
        }
        if (static_cast<quint64>(buffer.size() - pos - head) < length)
            break;
        ServerFrame frame;
        frame.opcode = b0 & 0x0F;
        frame.fin = (b0 & 0x80) != 0;
        frame.payload = buffer.mid(pos + head, static_cast<qsizetype>(length));
        frames.append(frame);
        pos += head + static_cast<qsizetype>(length);
    }
    buffer.remove(0, pos);
    return frames;
}

} // namespace medrelay::transport::test
