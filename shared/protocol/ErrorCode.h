#pragma once
// Every way a request can be rejected, in one table: the wire code sent in
// {"type":"error","code":...} replies and the HTTP status used when the same
// error ends an HTTP request. Metrics label rejections with the wire code.

#include <QLatin1StringView>
#include <QStringView>
#include <optional>

namespace medrelay::protocol {

// X(EnumName, "wire_code", httpStatus)
#define MEDRELAY_ERROR_CODES(X)                              \
    X(InvalidJson, "invalid_json", 400)                      \
    X(InvalidMessage, "invalid_message", 400)                \
    X(UnknownType, "unknown_type", 400)                      \
    X(MissingField, "missing_field", 400)                    \
    X(InvalidField, "invalid_field", 400)                    \
    X(NotMember, "not_member", 403)                          \
    X(TargetNotFound, "target_not_found", 404)               \
    X(TooLarge, "message_too_large", 413)                    \
    X(RateLimited, "rate_limited", 429)                      \
    X(Unauthorized, "unauthorized", 401)                     \
    X(Forbidden, "forbidden", 403)                           \
    X(IdentityMismatch, "identity_mismatch", 409)            \
    X(AppointmentMismatch, "appointment_mismatch", 409)      \
    X(RoomFull, "room_full", 409)                            \
    X(TooManyRooms, "too_many_rooms", 409)                   \
    X(NotFound, "not_found", 404)                            \
    X(MethodNotAllowed, "method_not_allowed", 405)           \
    X(ServerDraining, "server_draining", 503)                \
    X(TooManyConnections, "too_many_connections", 503)       \
    X(TokenExpired, "token_expired", 401)                    \
    X(InternalError, "internal_error", 500)                  \
    X(HostOnly, "host_only", 403)                            \
    X(RoomLocked, "room_locked", 423)                        \
    X(ConsultationEnded, "consultation_ended", 410)          \
    X(HistoryUnavailable, "history_unavailable", 503)        \
    X(NotWaiting, "not_waiting", 404)                        \
    X(ClusterUnavailable, "cluster_unavailable", 503)

enum class ErrorCode : quint8 {
#define MEDRELAY_X(name, wire, status) name,
    MEDRELAY_ERROR_CODES(MEDRELAY_X)
#undef MEDRELAY_X
};

inline constexpr int kErrorCodeCount = 0
#define MEDRELAY_X(name, wire, status) +1
    MEDRELAY_ERROR_CODES(MEDRELAY_X)
#undef MEDRELAY_X
    ;

[[nodiscard]] QLatin1StringView wireName(ErrorCode code);
[[nodiscard]] int httpStatus(ErrorCode code);
[[nodiscard]] std::optional<ErrorCode> errorFromWire(QStringView wire);

// WebSocket close codes the server uses (RFC 6455 section 7.4.1).
namespace CloseCode {
inline constexpr int Normal = 1000;
inline constexpr int GoingAway = 1001;
inline constexpr int PolicyViolation = 1008;
inline constexpr int MessageTooBig = 1009;
inline constexpr int InternalError = 1011;
inline constexpr int TryAgainLater = 1013;
// Application range (4000-4999): authentication.
inline constexpr int Unauthorized = 4001;
inline constexpr int TokenExpired = 4002;
inline constexpr int Kicked = 4003;
// Automatic logoff after --idle-logoff-minutes without a client message.
inline constexpr int IdleLogoff = 4004;
} // namespace CloseCode

} // namespace medrelay::protocol
