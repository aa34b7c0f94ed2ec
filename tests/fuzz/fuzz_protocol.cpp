// Fuzzes the client protocol edge: parseEnvelope() on one text frame, then the
// typed fromJson() of the kind it names. The same JSON object is also fed to
// every kind's fromJson() and to every admin API type, so the validators get
// inputs whose "type" does not match. Invariants: nothing crashes, and an
// admin value that parsed also parses again from its own toJson().

#include "adminapi/AdminTypes.h"
#include "protocol/MessageParser.h"
#include "protocol/Messages.h"

#include <QJsonDocument>

#include <cstddef>
#include <cstdint>

using namespace medrelay;

namespace {

void typed(protocol::MessageKind kind, const QJsonObject &o)
{
    using protocol::MessageKind;
    switch (kind) {
    case MessageKind::UserJoined: (void)protocol::JoinRoom::fromJson(kind, o); break;
    case MessageKind::UserLeft: (void)protocol::LeaveRoom::fromJson(kind, o); break;
    case MessageKind::Offer:
    case MessageKind::Answer:
    case MessageKind::IceCandidate:
    case MessageKind::ChatMessage:
    case MessageKind::WhiteboardUpdate: {
        const auto r = protocol::RoomMessage::fromJson(kind, o);
        if (r.ok() && r.value().roomId.isEmpty())
            __builtin_trap(); // a relayed message always names its room
        break;
    }
    case MessageKind::Auth: (void)protocol::AuthMessage::fromJson(kind, o); break;
    case MessageKind::RoomState:
    case MessageKind::RoomClosed:
    case MessageKind::AuthOk:
    case MessageKind::Error: break;
    }
}

template<typename T>
void roundTrip(const QJsonObject &o)
{
    if (const auto v = T::fromJson(o)) {
        if (!T::fromJson(v->toJson()))
            __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    // fromRawData: no copy, no terminating NUL, so ASan sees any over-read.
    const QByteArray frame = QByteArray::fromRawData(reinterpret_cast<const char *>(data), qsizetype(size));

    const auto env = protocol::parseEnvelope(frame);
    if (env.ok()) {
        if (protocol::direction(env.value().kind) != protocol::Direction::ClientToServer)
            __builtin_trap(); // server-only kinds must never be accepted from a client
        typed(env.value().kind, env.value().body);
    }

    const QJsonDocument doc = QJsonDocument::fromJson(frame);
    if (!doc.isObject())
        return 0;
    const QJsonObject o = doc.object();
    for (int k = 0; k < protocol::kMessageKindCount; ++k)
        typed(protocol::MessageKind(k), o);

    roundTrip<adminapi::ParticipantInfo>(o);
    roundTrip<adminapi::Health>(o);
    roundTrip<adminapi::Stats>(o);
    roundTrip<adminapi::Event>(o);
    roundTrip<adminapi::EventPage>(o);
    roundTrip<adminapi::CloseRoomRequest>(o);
    roundTrip<adminapi::CloseIdleRequest>(o);
    roundTrip<adminapi::DisconnectRequest>(o);
    roundTrip<adminapi::ActionResult>(o);
    if (const auto room = adminapi::RoomInfo::fromJson(o)) {
        if (!adminapi::RoomInfo::fromJson(room->toJson(true)))
            __builtin_trap();
    }
    (void)adminapi::Rates::fromJson(o);
    (void)adminapi::Totals::fromJson(o);
    return 0;
}
