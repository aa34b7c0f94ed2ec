#include "protocol/Messages.h"

#include <array>
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

// Absent and null are the same to every optional field.
const JsonMember *present(const JsonObjectView &o, QLatin1StringView field)
{
    const JsonMember *m = o.find(field);
    return (m && m->type != JsonType::Null) ? m : nullptr;
}

std::optional<qint64> integerFromDouble(double d)
{
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= kMaxSafeInteger)
        return static_cast<qint64>(d);
    return std::nullopt;
}

// An integer, or a string of at most 16 characters holding one (as some
// clients send appointment ids).
std::optional<qint64> integerFrom(const JsonObjectView &o, const JsonMember &m)
{
    if (m.type == JsonType::Number)
        return integerFromDouble(o.number(m));
    if (m.type == JsonType::String && o.stringLength(m) <= 16) {
        bool ok = false;
        const qint64 n = o.string(m).toLongLong(&ok);
        if (ok)
            return n;
    }
    return std::nullopt;
}

// The id characters, for checking raw bytes: A-Z a-z 0-9 _ . : @ -
constexpr auto kIdChars = [] {
    std::array<bool, 256> table{};
    for (int c = 'a'; c <= 'z'; ++c)
        table[std::size_t(c)] = true;
    for (int c = 'A'; c <= 'Z'; ++c)
        table[std::size_t(c)] = true;
    for (int c = '0'; c <= '9'; ++c)
        table[std::size_t(c)] = true;
    for (char c : {'_', '-', '.', ':', '@'})
        table[std::size_t(static_cast<unsigned char>(c))] = true;
    return table;
}();

// An id string member, read without UTF-8 decoding when it is written
// plainly (as ids almost always are); std::nullopt when it is not an id.
std::optional<QString> readId(const JsonObjectView &o, const JsonMember &m)
{
    if (m.type != JsonType::String)
        return std::nullopt;
    if (!m.valueEscaped) {
        const QByteArrayView raw = o.rawValue(m).sliced(1, m.valueEnd - m.valueBegin - 2);
        if (raw.isEmpty() || raw.size() > kMaxIdLength)
            return std::nullopt;
        for (const char c : raw) {
            if (!kIdChars[static_cast<unsigned char>(c)])
                return std::nullopt;
        }
        return QString::fromLatin1(raw);
    }
    if (!o.stringLengthWithin(m, 1, kMaxIdLength))
        return std::nullopt;
    QString s = o.string(m);
    if (!isValidId(s))
        return std::nullopt;
    return s;
}

// roomId: required, 1-128 characters of [A-Za-z0-9_.:@-].
std::optional<ProtocolError> readRoomId(const JsonObjectView &o, QString &out)
{
    const JsonMember *m = present(o, "roomId"_L1);
    if (!m)
        return missing("roomId"_L1);
    auto id = readId(o, *m);
    if (!id)
        return invalid("roomId"_L1, "a string of 1-128 letters, digits or _ . : @ -"_L1);
    out = std::move(*id);
    return std::nullopt;
}

// appointmentId: a non-negative integer (or a string of digits).
std::optional<ProtocolError> readAppointmentId(const JsonObjectView &o, bool required, std::optional<qint64> &out)
{
    const JsonMember *m = present(o, "appointmentId"_L1);
    if (!m) {
        if (required)
            return missing("appointmentId"_L1);
        return std::nullopt;
    }
    const auto n = integerFrom(o, *m);
    if (!n || *n < 0)
        return invalid("appointmentId"_L1, "a non-negative integer"_L1);
    out = n;
    return std::nullopt;
}

std::optional<ProtocolError> readOptionalString(const JsonObjectView &o, QLatin1StringView field,
                                                qsizetype maxLength, QLatin1StringView expected,
                                                std::optional<QString> &out)
{
    const JsonMember *m = present(o, field);
    if (!m)
        return std::nullopt;
    if (m->type != JsonType::String || o.stringLength(*m) > maxLength)
        return invalid(field, expected);
    out = o.string(*m);
    return std::nullopt;
}

std::optional<QString> userIdFrom(const JsonObjectView &o, const JsonMember &m)
{
    if (m.type == JsonType::Number) {
        const auto n = integerFromDouble(o.number(m));
        if (!n)
            return std::nullopt;
        return QString::number(*n);
    }
    if (m.type == JsonType::String && o.stringLength(m) <= kMaxIdLength) {
        QString s = o.string(m);
        if (isValidId(s))
            return s;
    }
    return std::nullopt;
}

std::optional<ProtocolError> readOptionalUserId(const JsonObjectView &o, QLatin1StringView field,
                                                std::optional<QString> &out)
{
    const JsonMember *m = present(o, field);
    if (!m)
        return std::nullopt;
    out = userIdFrom(o, *m);
    if (!out)
        return invalid(field, "a number or a string of 1-128 letters, digits or _ . : @ -"_L1);
    return std::nullopt;
}

std::optional<ProtocolError> readOptionalBool(const JsonObjectView &o, QLatin1StringView field,
                                              std::optional<bool> &out)
{
    const JsonMember *m = present(o, field);
    if (!m)
        return std::nullopt;
    if (m->type != JsonType::True && m->type != JsonType::False)
        return invalid(field, "true or false"_L1);
    out = m->type == JsonType::True;
    return std::nullopt;
}

// clientMessageId: 1-64 printable characters.
std::optional<ProtocolError> readClientMessageId(const JsonObjectView &o, std::optional<QString> &out)
{
    const JsonMember *m = present(o, "clientMessageId"_L1);
    if (!m)
        return std::nullopt;
    const auto bad = [] { return invalid("clientMessageId"_L1, "a string of 1-64 printable characters"_L1); };
    if (m->type != JsonType::String || o.stringLength(*m) > kMaxClientMessageIdLength)
        return bad();
    QString s = o.string(*m);
    if (s.isEmpty())
        return bad();
    for (const QChar c : std::as_const(s)) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return bad();
    }
    out = std::move(s);
    return std::nullopt;
}

} // namespace

bool isValidId(QStringView s)
{
    if (s.isEmpty() || s.size() > kMaxIdLength)
        return false;
    for (QChar c : s) {
        if (!isIdChar(c))
            return false;
    }
    return true;
}

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

void appendUserId(QByteArray &out, const QString &userId)
{
    bool ok = false;
    const qint64 n = userId.toLongLong(&ok);
    if (ok && QString::number(n) == userId && std::fabs(static_cast<double>(n)) <= kMaxSafeInteger)
        out.append(QByteArray::number(n));
    else
        appendJsonString(out, userId);
}

std::optional<QString> userIdFromJson(const QJsonValue &value)
{
    if (value.isDouble()) {
        const auto n = integerFromDouble(value.toDouble());
        if (!n)
            return std::nullopt;
        return QString::number(*n);
    }
    if (value.isString() && isValidId(value.toString()))
        return value.toString();
    return std::nullopt;
}

Result<JoinRoom> JoinRoom::fromJson(MessageKind, const JsonObjectView &o, const ValidationLimits &)
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
    if (auto e = readOptionalString(o, "userName"_L1, kMaxNameLength, "a string of at most 128 characters"_L1,
                                    m.userName))
        return *e;
    std::optional<QString> role;
    if (auto e = readOptionalString(o, "role"_L1, kMaxRoleLength, "a string of at most 32 characters"_L1, role))
        return *e;
    m.role = role.value_or(QString());
    if (const JsonMember *last = present(o, "lastSeq"_L1)) {
        const auto n = last->type == JsonType::Number ? integerFromDouble(o.number(*last)) : std::nullopt;
        if (!n || *n < 0)
            return invalid("lastSeq"_L1, "a non-negative integer"_L1);
        m.lastSeq = n;
    }
    return m;
}

Result<LeaveRoom> LeaveRoom::fromJson(MessageKind, const JsonObjectView &o, const ValidationLimits &)
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
    return kind == MessageKind::Offer || kind == MessageKind::Answer || kind == MessageKind::IceCandidate;
}

bool RoomMessage::isStored(MessageKind kind)
{
    return kind == MessageKind::ChatMessage || kind == MessageKind::WhiteboardUpdate
        || kind == MessageKind::WhiteboardClear;
}

Result<RoomMessage> RoomMessage::fromJson(MessageKind kind, const JsonObjectView &o, const ValidationLimits &limits)
{
    RoomMessage m;
    if (auto e = readRoomId(o, m.roomId))
        return *e;
    const bool appointmentRequired = kind != MessageKind::WhiteboardUpdate && kind != MessageKind::WhiteboardClear;
    if (auto e = readAppointmentId(o, appointmentRequired, m.appointmentId))
        return *e;

    const QLatin1StringView field = payloadField(kind);
    switch (kind) {
    case MessageKind::Offer:
    case MessageKind::Answer:
    case MessageKind::IceCandidate: {
        const JsonMember *payload = o.find(field);
        if (!payload)
            return missing(field);
        if (payload->type != JsonType::Object)
            return invalid(field, "an object"_L1);
        break;
    }
    case MessageKind::ChatMessage: {
        const JsonMember *payload = o.find(field);
        if (!payload)
            return missing(field);
        if (payload->type != JsonType::String)
            return invalid(field, "a string"_L1);
        if (!o.stringLengthWithin(*payload, 1, limits.maxChatLength))
            return ProtocolError{ErrorCode::InvalidField,
                                 u"field 'message' must be a string of 1-%1 characters"_s.arg(limits.maxChatLength)};
        break;
    }
    case MessageKind::WhiteboardUpdate: {
        const JsonMember *payload = o.find(field);
        if (!payload)
            return missing(field);
        if (payload->type == JsonType::Null)
            return invalid(field, "present and not null"_L1);
        break;
    }
    case MessageKind::WhiteboardClear:
        break;
    default:
        return ProtocolError{ErrorCode::UnknownType, u"not a room message"_s};
    }

    if (supportsTarget(kind)) {
        if (const JsonMember *to = present(o, "to"_L1)) {
            m.to = userIdFrom(o, *to);
            if (!m.to)
                return invalid("to"_L1, "a user id or connection id"_L1);
        }
    }
    if (isStored(kind)) {
        if (auto e = readClientMessageId(o, m.clientMessageId))
            return *e;
    }
    return m;
}

Result<AuthMessage> AuthMessage::fromJson(MessageKind, const JsonObjectView &o, const ValidationLimits &)
{
    const JsonMember *m = present(o, "token"_L1);
    if (!m)
        return missing("token"_L1);
    if (m->type != JsonType::String || o.stringLength(*m) == 0 || o.stringLength(*m) > kMaxTokenLength)
        return invalid("token"_L1, "a non-empty string of at most 8192 characters"_L1);
    return AuthMessage{o.string(*m)};
}

Result<RoomSettings> RoomSettings::fromJson(MessageKind, const JsonObjectView &o, const ValidationLimits &)
{
    RoomSettings m;
    if (auto e = readRoomId(o, m.roomId))
        return *e;
    if (auto e = readOptionalBool(o, "waitingRoom"_L1, m.waitingRoom))
        return *e;
    if (auto e = readOptionalBool(o, "locked"_L1, m.locked))
        return *e;
    if (!m.waitingRoom && !m.locked)
        return ProtocolError{ErrorCode::MissingField, u"room_settings needs 'waitingRoom' or 'locked'"_s};
    return m;
}

Result<ParticipantAction> ParticipantAction::fromJson(MessageKind, const JsonObjectView &o, const ValidationLimits &)
{
    ParticipantAction m;
    if (auto e = readRoomId(o, m.roomId))
        return *e;
    const JsonMember *c = present(o, "connectionId"_L1);
    if (!c)
        return missing("connectionId"_L1);
    if (c->type != JsonType::String || o.stringLength(*c) > kMaxIdLength || !isValidId(o.string(*c)))
        return invalid("connectionId"_L1, "a connection id"_L1);
    m.connectionId = o.string(*c);
    return m;
}

Result<EndConsultation> EndConsultation::fromJson(MessageKind, const JsonObjectView &o, const ValidationLimits &)
{
    EndConsultation m;
    if (auto e = readRoomId(o, m.roomId))
        return *e;
    return m;
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
