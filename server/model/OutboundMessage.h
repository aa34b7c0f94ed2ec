#pragma once
// A server-to-client message serialised exactly once. Fan-out hands the same
// (implicitly shared) text to every recipient: no per-recipient JSON work.

#include "protocol/MessageKind.h"

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
        , m_text(QString::fromUtf8(m_utf8))
    {}

    [[nodiscard]] protocol::MessageKind kind() const { return m_kind; }
    [[nodiscard]] const QString &text() const { return m_text; }
    [[nodiscard]] const QByteArray &utf8() const { return m_utf8; }
    [[nodiscard]] qsizetype size() const { return m_utf8.size(); }

private:
    protocol::MessageKind m_kind;
    QByteArray m_utf8;
    QString m_text;
};

} // namespace medrelay::server
