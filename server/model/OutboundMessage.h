#pragma once
// A server-to-client message serialised exactly once. Fan-out hands the same
// (implicitly shared) bytes to every recipient: the JSON is built once, and
// the WebSocket frame (or the QString QWebSocket wants) is made once, on first
// use, and then shared too.

#include "protocol/MessageKind.h"
#include "transport/WebSocketCodec.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

namespace medrelay::server {

class OutboundMessage final
{
public:
    OutboundMessage(protocol::MessageKind kind, const QJsonObject &object)
        : m_kind(kind)
        , m_utf8(QJsonDocument(object).toJson(QJsonDocument::Compact))
    {}
    // Already serialised JSON text (a relayed message, spliced from the
    // sender's bytes).
    OutboundMessage(protocol::MessageKind kind, QByteArray utf8)
        : m_kind(kind)
        , m_utf8(std::move(utf8))
    {}

    [[nodiscard]] protocol::MessageKind kind() const { return m_kind; }
    [[nodiscard]] const QByteArray &utf8() const { return m_utf8; }
    [[nodiscard]] qsizetype size() const { return m_utf8.size(); }

    // The text as QWebSocket takes it.
    [[nodiscard]] const QString &text() const
    {
        if (m_text.isNull())
            m_text = QString::fromUtf8(m_utf8);
        return m_text;
    }
    // The complete, unmasked server text frame.
    [[nodiscard]] const QByteArray &wsFrame() const
    {
        if (m_frame.isNull())
            m_frame = transport::WebSocketCodec::encodeFrame(transport::Opcode::Text, m_utf8);
        return m_frame;
    }

    // A copy to keep: the text in an allocation of its own size (a text
    // grown by appends or by QJsonDocument keeps up to twice that), without
    // the forms made for sending, which are made again if it is sent.
    [[nodiscard]] OutboundMessage kept() const
    {
        OutboundMessage copy(m_kind, m_utf8);
        copy.m_utf8.squeeze();
        return copy;
    }

private:
    protocol::MessageKind m_kind;
    QByteArray m_utf8;
    // Made on first use; a message lives on one thread.
    mutable QString m_text;
    mutable QByteArray m_frame;
};

} // namespace medrelay::server
