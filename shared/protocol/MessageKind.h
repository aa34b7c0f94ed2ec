#pragma once
// The one append-only list of wire message kinds. The enum and the name table
// are both generated from it, so a kind cannot exist in one and not the other.

#include <QLatin1StringView>
#include <QStringView>
#include <optional>

namespace medrelay::protocol {

// X(EnumName, "wire_name", direction)
// direction: ClientToServer kinds may be sent by clients (and are relayed or
// answered); ServerToClient kinds are only ever produced by the server.
#define MEDRELAY_MESSAGE_KINDS(X)                                            \
    X(UserJoined, "telemedicine_user_joined", ClientToServer)               \
    X(UserLeft, "telemedicine_user_left", ClientToServer)                   \
    X(Offer, "telemedicine_offer", ClientToServer)                          \
    X(Answer, "telemedicine_answer", ClientToServer)                        \
    X(IceCandidate, "telemedicine_ice_candidate", ClientToServer)           \
    X(ChatMessage, "telemedicine_chat_message", ClientToServer)             \
    X(WhiteboardUpdate, "whiteboard_update", ClientToServer)                \
    X(Auth, "auth", ClientToServer)                                         \
    X(RoomState, "room_state", ServerToClient)                              \
    X(RoomClosed, "room_closed", ServerToClient)                            \
    X(AuthOk, "auth_ok", ServerToClient)                                    \
    X(Error, "error", ServerToClient)                                       \
    X(WhiteboardClear, "whiteboard_clear", ClientToServer)                  \
    X(RoomSettings, "room_settings", ClientToServer)                        \
    X(Admit, "admit", ClientToServer)                                       \
    X(Deny, "deny", ClientToServer)                                         \
    X(RemoveParticipant, "remove_participant", ClientToServer)              \
    X(EndConsultation, "end_consultation", ClientToServer)                  \
    X(Ack, "ack", ServerToClient)                                           \
    X(ResumeGap, "resume_gap", ServerToClient)                              \
    X(Waiting, "waiting", ServerToClient)                                   \
    X(AdmissionRequest, "admission_request", ServerToClient)                \
    X(AdmissionResolved, "admission_resolved", ServerToClient)              \
    X(Admitted, "admitted", ServerToClient)                                 \
    X(Denied, "denied", ServerToClient)                                     \
    X(Removed, "removed", ServerToClient)                                   \
    X(Left, "left", ServerToClient)                                         \
    X(RoomSettingsChanged, "room_settings_changed", ServerToClient)         \
    X(ConsultationEnded, "consultation_ended", ServerToClient)              \
    X(ConsultationWarning, "consultation_warning", ServerToClient)          \
    X(IceServers, "ice_servers", ServerToClient)

enum class MessageKind : quint8 {
#define MEDRELAY_X(name, wire, dir) name,
    MEDRELAY_MESSAGE_KINDS(MEDRELAY_X)
#undef MEDRELAY_X
};

enum class Direction : quint8 { ClientToServer, ServerToClient };

inline constexpr int kMessageKindCount = 0
#define MEDRELAY_X(name, wire, dir) +1
    MEDRELAY_MESSAGE_KINDS(MEDRELAY_X)
#undef MEDRELAY_X
    ;

[[nodiscard]] QLatin1StringView wireName(MessageKind kind);
[[nodiscard]] Direction direction(MessageKind kind);
[[nodiscard]] std::optional<MessageKind> kindFromWire(QStringView wire);
[[nodiscard]] std::optional<MessageKind> kindFromWire(QLatin1StringView wire);

} // namespace medrelay::protocol
