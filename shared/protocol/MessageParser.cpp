#include "protocol/MessageParser.h"

#include <QJsonDocument>
#include <QJsonParseError>

namespace medrelay::protocol {

using namespace Qt::StringLiterals;

Result<Envelope> parseEnvelope(const QByteArray &utf8)
{
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(utf8, &err);
    if (err.error != QJsonParseError::NoError)
        return ProtocolError{ErrorCode::InvalidJson,
                             u"malformed JSON at offset %1: %2"_s.arg(err.offset).arg(err.errorString())};
    if (!doc.isObject())
        return ProtocolError{ErrorCode::InvalidMessage, u"a message must be a JSON object"_s};

    Envelope env;
    env.body = doc.object();
    const QJsonValue rid = env.body.value("requestId"_L1);
    if (rid.isString() ? rid.toString().size() <= kMaxIdLength : rid.isDouble())
        env.requestId = rid;

    const QJsonValue type = env.body.value("type"_L1);
    if (type.isUndefined() || type.isNull())
        return ProtocolError{ErrorCode::MissingField, u"missing required field 'type'"_s, env.requestId};
    if (!type.isString())
        return ProtocolError{ErrorCode::InvalidField, u"field 'type' must be a string"_s, env.requestId};
    const auto kind = kindFromWire(type.toString());
    if (!kind || direction(*kind) != Direction::ClientToServer) {
        // Only printable ASCII of the unknown name is echoed back.
        QString shown = type.toString().left(64);
        for (QChar &c : shown) {
            if (c.unicode() < 0x20 || c.unicode() > 0x7e)
                c = u'?';
        }
        return ProtocolError{ErrorCode::UnknownType, u"unknown message type '%1'"_s.arg(shown),
                             env.requestId};
    }
    env.kind = *kind;
    return env;
}

} // namespace medrelay::protocol
