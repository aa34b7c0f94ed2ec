#include "protocol/Messages.h"

#include <QJsonDocument>
#include <cmath>

namespace medrelay::protocol {
namespace {

using namespace Qt::StringLiterals;

constexpr double kMaxSafeInteger = 9007199254740991.0; // 2^53 - 1

ProtocolError missing(QLatin1StringView field)
{
    return {ErrorCode::MissingField, u"missing required field '%1'"_s.arg(field)};
}

ProtocolError invalid(QLatin1StringView field, QLatin1StringView expected)
{
    return {ErrorCode::InvalidField, u"field '%1' must be %2"_s.arg(field, expected)};
}

bool isIdChar(QChar c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9')
        || c == u'_' || c == u'-' || c == u'.' || c == u':' || c == u'@';
}

bool isValidId(const QString &s)
{
    if (s.isEmpty() || s.size() > kMaxIdLength)
        return false;
    for (QChar c : s) {
        if (!isIdChar(c))
            return false;
    }
    return true;
}

// roomId: required, 1-128 characters of [A-Za-z0-9_.:@-].
std::optional<ProtocolError> readRoomId(const QJsonObject &o, QString &out)
{
    const auto v = o.value("roomId"_L1);
    if (v.isUndefined() || v.isNull())
        return missing("roomId"_L1);
    if (!v.isString() || !isValidId(v.toString()))
        return invalid("roomId"_L1, "a string of 1-128 letters, digits or _ . : @ -"_L1);
    out = v.toString();
    return std::nullopt;
}

std::optional<qint64> integerFrom(const QJsonValue &v)
{
    if (v.isDouble()) {
        const double d = v.toDouble();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= kMaxSafeInteger)
            return static_cast<qint64>(d);
        return std::nullopt;
    }
    if (v.isString()) {
        bool ok = false;
        const qint64 n = v.toString().toLongLong(&ok);
        if (ok && v.toString().size() <= 16)
            return n;
    }
    return std::nullopt;
}

// appointmentId: an integer (or a string of digits, as some clients send).
std::optional<ProtocolError> readAppointmentId(const QJsonObject &o, bool required,
                                               std::optional<qint64> &out)
{
    const auto v = o.value("appointmentId"_L1);
    if (v.isUndefined() || v.isNull()) {
        if (required)
            return missing("appointmentId"_L1);
        return std::nullopt;
    }
    const auto n = integerFrom(v);
    if (!n || *n < 0)
        return invalid("appointmentId"_L1, "a non-negative integer"_L1);
    out = n;
    return std::nullopt;
}

std::optional<ProtocolError> readOptionalString(const QJsonObject &o, QLatin1StringView field,
                                                qsizetype maxLength, std::optional<QString> &out)
{
    const auto v = o.value(field);
    if (v.isUndefined() || v.isNull())
        return std::nullopt;
    if (!v.isString() || v.toString().size() > maxLength)
        return invalid(field, "a string of at most 128 characters"_L1);
    out = v.toString();
    return std::nullopt;
}

std::optional<ProtocolError> readOptionalUserId(const QJsonObject &o, QLatin1StringView field,
                                                std::optional<QString> &out)
{
    const auto v = o.value(field);
    if (v.isUndefined() || v.isNull())
        return std::nullopt;
    out = userIdFromJson(v);
    if (!out)
        return invalid(field, "a number or a string of 1-128 letters, digits or _ . : @ -"_L1);
    return std::nullopt;
}

} // namespace

QJsonValue userIdToJson(const QString &userId)
{
    // Written back as a number exactly when it came in as one: an integer in
    // canonical decimal form within JSON's safe integer range.
    bool ok = false;
    const qint64 n = userId.toLongLong(&ok);
    if (ok && QString::number(n) == userId && std::fabs(static_cast<double>(n)) <= kMaxSafeInteger)
        return QJsonValue(static_cast<double>(n));
    return QJsonValue(userId);
}

std::optional<QString> userIdFromJson(const QJsonValue &value)
{
    if (value.isDouble()) {
        const auto n = integerFrom(value);
        if (!n)
            return std::nullopt;
        return QString::number(*n);
    }
    if (value.isString() && isValidId(value.toString()))
        return value.toString();
    return std::nullopt;
}

Result<JoinRoom> JoinRoom::fromJson(MessageKind, const QJsonObject &o)
{
    JoinRoom m;
    if (auto e = readRoomId(o, m.roomId))
        return *e;
    std::optional<qint64> appointment;
    if (auto e = readAppointmentId(o, true, appointment))
        return *e;
    m.appointmentId = *appointment;
    if (auto e = readOptionalUserId(o, "userId"_L1, m.userId))
        return *e;
    if (auto e = readOptionalString(o, "userName"_L1, kMaxNameLength, m.userName))
        return *e;
    std::optional<QString> role;
    if (auto e = readOptionalString(o, "role"_L1, 32, role))
        return *e;
    m.role = role.value_or(QString());
    return m;
}

Result<LeaveRoom> LeaveRoom::fromJson(MessageKind, const QJsonObject &o)
{
    LeaveRoom m;
    if (auto e = readRoomId(o, m.roomId))
        return *e;
    if (auto e = readAppointmentId(o, false, m.appointmentId))
        return *e;
    return m;
}

QLatin1StringView RoomMessage::payloadField(MessageKind kind)
{
    switch (kind) {
    case MessageKind::Offer:
        return "offer"_L1;
    case MessageKind::Answer:
        return "answer"_L1;
    case MessageKind::IceCandidate:
        return "candidate"_L1;
    case MessageKind::ChatMessage:
        return "message"_L1;
    case MessageKind::WhiteboardUpdate:
        return "data"_L1;
    default:
        return {};
    }
}

bool RoomMessage::supportsTarget(MessageKind kind)
{
    return kind == MessageKind::Offer || kind == MessageKind::Answer
        || kind == MessageKind::IceCandidate;
}

Result<RoomMessage> RoomMessage::fromJson(MessageKind kind, const QJsonObject &o)
{
    RoomMessage m;
    if (auto e = readRoomId(o, m.roomId))
        return *e;
    const bool appointmentRequired = kind != MessageKind::WhiteboardUpdate;
    if (auto e = readAppointmentId(o, appointmentRequired, m.appointmentId))
        return *e;

    const QLatin1StringView field = payloadField(kind);
    const QJsonValue payload = o.value(field);
    if (payload.isUndefined())
        return missing(field);
    switch (kind) {
    case MessageKind::Offer:
    case MessageKind::Answer:
    case MessageKind::IceCandidate:
        if (!payload.isObject())
            return invalid(field, "an object"_L1);
        break;
    case MessageKind::ChatMessage:
        if (!payload.isString())
            return invalid(field, "a string"_L1);
        if (payload.toString().isEmpty() || payload.toString().size() > kMaxChatLength)
            return invalid(field, "a string of 1-16384 characters"_L1);
        break;
    case MessageKind::WhiteboardUpdate:
        if (payload.isNull())
            return invalid(field, "present and not null"_L1);
        break;
    default:
        return ProtocolError{ErrorCode::UnknownType, u"not a room message"_s};
    }

    if (supportsTarget(kind)) {
        const auto to = o.value("to"_L1);
        if (!to.isUndefined() && !to.isNull()) {
            m.to = userIdFromJson(to);
            if (!m.to)
                return invalid("to"_L1, "a user id or connection id"_L1);
        }
    }
    return m;
}

Result<AuthMessage> AuthMessage::fromJson(MessageKind, const QJsonObject &o)
{
    const auto v = o.value("token"_L1);
    if (v.isUndefined() || v.isNull())
        return missing("token"_L1);
    if (!v.isString() || v.toString().isEmpty() || v.toString().size() > 8192)
        return invalid("token"_L1, "a non-empty string of at most 8192 characters"_L1);
    return AuthMessage{v.toString()};
}

QJsonObject makeError(ErrorCode code, const QString &message, const QJsonValue &requestId)
{
    QJsonObject o{{u"type"_s, QString(wireName(MessageKind::Error))},
                  {u"code"_s, QString(wireName(code))},
                  {u"message"_s, message}};
    if (!requestId.isUndefined() && !requestId.isNull())
        o.insert(u"requestId"_s, requestId);
    return o;
}

} // namespace medrelay::protocol
