#pragma once
// Typed client messages. Each is validated once, at the edge, by its
// fromJson(); inside the server only these values travel. A message keeps the
// sender's original JSON object (`body`) because relayed messages must carry
// every field the sender wrote, apart from the fields the server owns.

#include "protocol/ErrorCode.h"
#include "protocol/MessageKind.h"

#include <QJsonObject>
#include <QJsonValue>
#include <QString>

#include <optional>
#include <variant>

namespace medrelay::protocol {

// Upper bounds on client-supplied identifiers and text.
inline constexpr qsizetype kMaxIdLength = 128;
inline constexpr qsizetype kMaxNameLength = 128;
inline constexpr qsizetype kMaxChatLength = 16 * 1024;

struct ProtocolError
{
    ProtocolError(ErrorCode c, QString m, QJsonValue rid = {})
        : code(c), message(std::move(m)), requestId(std::move(rid)) {}
    ErrorCode code = ErrorCode::InvalidMessage;
    QString message;
    QJsonValue requestId; // echoed in the error reply when the sender gave one
};

// Either a value or the reason it could not be made.
template<typename T>
class Result
{
public:
    Result(T value) : m_v(std::move(value)) {}                 // NOLINT(google-explicit-constructor)
    Result(ProtocolError error) : m_v(std::move(error)) {}     // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const { return std::holds_alternative<T>(m_v); }
    [[nodiscard]] const T &value() const { return std::get<T>(m_v); }
    [[nodiscard]] T &value() { return std::get<T>(m_v); }
    [[nodiscard]] const ProtocolError &error() const { return std::get<ProtocolError>(m_v); }

private:
    std::variant<T, ProtocolError> m_v;
};

// A user id as the wire knows it: the original protocol sends numbers, newer
// clients and token subjects may be strings. Stored as text; written back as a
// JSON number when it is a plain decimal integer, so original clients see the
// type they sent.
[[nodiscard]] QJsonValue userIdToJson(const QString &userId);
[[nodiscard]] std::optional<QString> userIdFromJson(const QJsonValue &value);

// What every client message has: its kind, the sender's JSON, and the
// optional requestId echoed back in replies and errors.
struct Envelope
{
    MessageKind kind = MessageKind::Error;
    QJsonObject body;
    QJsonValue requestId;
};

struct JoinRoom
{
    QString roomId;
    qint64 appointmentId = 0;
    std::optional<QString> userId;   // claimed; ignored when identities come from tokens
    std::optional<QString> userName; // claimed; ignored when identities come from tokens
    QString role;                    // claimed role, informational when unauthenticated
    [[nodiscard]] static Result<JoinRoom> fromJson(MessageKind kind, const QJsonObject &o);
};

struct LeaveRoom
{
    QString roomId;
    std::optional<qint64> appointmentId;
    [[nodiscard]] static Result<LeaveRoom> fromJson(MessageKind kind, const QJsonObject &o);
};

// Relayed room traffic: WebRTC signalling, chat and whiteboard. The kind says
// which payload field is required; `to` optionally narrows delivery to one
// participant (user id or connection id).
struct RoomMessage
{
    QString roomId;
    std::optional<qint64> appointmentId;
    std::optional<QString> to;
    [[nodiscard]] static Result<RoomMessage> fromJson(MessageKind kind, const QJsonObject &o);
    // The payload field a kind must carry ("offer", "message", "data", ...).
    [[nodiscard]] static QLatin1StringView payloadField(MessageKind kind);
    [[nodiscard]] static bool supportsTarget(MessageKind kind);
};

struct AuthMessage
{
    QString token;
    [[nodiscard]] static Result<AuthMessage> fromJson(MessageKind kind, const QJsonObject &o);
};

// Server-to-client messages.
[[nodiscard]] QJsonObject makeError(ErrorCode code, const QString &message,
                                    const QJsonValue &requestId = {});

} // namespace medrelay::protocol
