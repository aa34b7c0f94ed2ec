#include "protocol/MessageParser.h"

namespace medrelay::protocol {

using namespace Qt::StringLiterals;

Result<Envelope> parseEnvelope(const QByteArray &utf8)
{
    Envelope env;
    if (auto err = JsonObjectView::scan(utf8, env.json)) {
        if (err->notAnObject)
            return ProtocolError{ErrorCode::InvalidMessage, err->message};
        return ProtocolError{ErrorCode::InvalidJson, u"malformed JSON at offset %1: %2"_s.arg(err->offset).arg(err->message)};
    }
    const JsonObjectView &o = env.json;

    if (const JsonMember *rid = o.find("requestId"_L1)) {
        if (rid->type == JsonType::String && o.stringLength(*rid) <= kMaxIdLength)
            env.requestId = o.string(*rid);
        else if (rid->type == JsonType::Number)
            env.requestId = o.number(*rid);
    }

    const JsonMember *type = o.find("type"_L1);
    if (!type || type->type == JsonType::Null)
        return ProtocolError{ErrorCode::MissingField, u"missing required field 'type'"_s, env.requestId};
    if (type->type != JsonType::String)
        return ProtocolError{ErrorCode::InvalidField, u"field 'type' must be a string"_s, env.requestId};
    // The kind names are ASCII without escapes: compare the raw bytes.
    const QByteArrayView name = o.rawValue(*type).sliced(1, type->valueEnd - type->valueBegin - 2);
    const auto kind = type->valueEscaped ? kindFromWire(o.string(*type))
                                         : kindFromWire(QLatin1StringView(name.data(), name.size()));
    if (!kind || direction(*kind) != Direction::ClientToServer) {
        // Only printable ASCII of the unknown name is echoed back.
        QString shown = o.string(*type).left(64);
        for (QChar &c : shown) {
            if (c.unicode() < 0x20 || c.unicode() > 0x7e)
                c = u'?';
        }
        return ProtocolError{ErrorCode::UnknownType, u"unknown message type '%1'"_s.arg(shown), env.requestId};
    }
    env.kind = *kind;
    return env;
}

QString Envelope::roomId() const
{
    const JsonMember *room = json.find("roomId"_L1);
    if (!room || room->type != JsonType::String || json.stringLength(*room) > kMaxIdLength)
        return {};
    return json.string(*room);
}

} // namespace medrelay::protocol
