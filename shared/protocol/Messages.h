#pragma once
// Typed client messages. Each is validated once, at the edge, by its
// fromJson() from the scanned message; inside the server only these values
// travel. The Envelope keeps the sender's bytes (and the index of their
// top-level fields), because a relayed message carries everything the sender
// wrote, byte for byte, apart from the fields the server owns.

#include "protocol/ErrorCode.h"
#include "protocol/JsonScanner.h"
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
inline constexpr qsizetype kMaxRoleLength = 32;
inline constexpr qsizetype kMaxClientMessageIdLength = 64;
inline constexpr qsizetype kMaxTokenLength = 8192;

// Limits that depend on the server's configuration.
struct ValidationLimits
{
    // Longest chat text in UTF-16 code units. The default lets any chat that
    // fits in the largest allowed message through, as the original did.
    qsizetype maxChatLength = 64 * 1024;
};

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
// The same, appended to a JSON text being built.
void appendUserId(QByteArray &out, const QString &userId);

// What every client message has: its kind, the sender's JSON (validated,
// with its top-level fields indexed), and the optional requestId echoed back
// in replies and errors.
struct Envelope
{
    MessageKind kind = MessageKind::Error;
    JsonObjectView json;
    QJsonValue requestId;
    // The roomId field when it is a string of at most 128 characters, else
    // empty (gates use it before the kind's own validation). Decoded on
    // demand: most messages never need it twice.
    [[nodiscard]] QString roomId() const;
};

struct JoinRoom
{
    QString roomId;
    qint64 appointmentId = 0;
    std::optional<QString> userId;   // claimed; ignored when identities come from tokens
    std::optional<QString> userName; // claimed; ignored when identities come from tokens
    QString role;                    // claimed role, informational when unauthenticated
    std::optional<qint64> lastSeq;   // resume: replay stored messages after this seq
    [[nodiscard]] static Result<JoinRoom> fromJson(MessageKind kind, const JsonObjectView &o,
                                                   const ValidationLimits &limits = {});
};

struct LeaveRoom
{
    QString roomId;
    std::optional<qint64> appointmentId;
    [[nodiscard]] static Result<LeaveRoom> fromJson(MessageKind kind, const JsonObjectView &o,
                                                    const ValidationLimits &limits = {});
};

// Relayed room traffic: WebRTC signalling (offer, answer, ICE candidate),
// chat, whiteboard updates and whiteboard clears. The kind says which payload
// field is required; `to` optionally narrows signalling to one participant
// (connection id or user id); chat and whiteboard may carry a
// clientMessageId so a retry is recognised.
struct RoomMessage
{
    QString roomId;
    std::optional<qint64> appointmentId;
    std::optional<QString> to;
    std::optional<QString> clientMessageId;
    [[nodiscard]] static Result<RoomMessage> fromJson(MessageKind kind, const JsonObjectView &o,
                                                      const ValidationLimits &limits = {});
    // The payload field a kind must carry ("offer", "message", "data", ...);
    // empty when it needs none.
    [[nodiscard]] static QLatin1StringView payloadField(MessageKind kind);
    [[nodiscard]] static bool supportsTarget(MessageKind kind);
    // Chat, whiteboard update and clear: numbered, stored and acknowledged.
    [[nodiscard]] static bool isStored(MessageKind kind);
};

struct AuthMessage
{
    QString token;
    [[nodiscard]] static Result<AuthMessage> fromJson(MessageKind kind, const JsonObjectView &o,
                                                      const ValidationLimits &limits = {});
};

// room_settings: a host turns the waiting room or the lock on or off.
struct RoomSettings
{
    QString roomId;
    std::optional<bool> waitingRoom;
    std::optional<bool> locked;
    [[nodiscard]] static Result<RoomSettings> fromJson(MessageKind kind, const JsonObjectView &o,
                                                       const ValidationLimits &limits = {});
};

// admit, deny and remove_participant: a host acts on one connection.
struct ParticipantAction
{
    QString roomId;
    QString connectionId;
    [[nodiscard]] static Result<ParticipantAction> fromJson(MessageKind kind, const JsonObjectView &o,
                                                            const ValidationLimits &limits = {});
};

struct EndConsultation
{
    QString roomId;
    [[nodiscard]] static Result<EndConsultation> fromJson(MessageKind kind, const JsonObjectView &o,
                                                          const ValidationLimits &limits = {});
};

// Room ids, connection ids and string user ids: 1-128 characters of
// [A-Za-z0-9_.:@-].
[[nodiscard]] bool isValidId(QStringView s);

// Server-to-client messages.
[[nodiscard]] QJsonObject makeError(ErrorCode code, const QString &message,
                                    const QJsonValue &requestId = {});

} // namespace medrelay::protocol
